#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <spindle/core/rng.hpp>
#include <vector>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_rng {

using spindle::Rng;

TEST_CASE("Rng: the same seed gives the same stream, another seed or stream another one") {
  Rng a(42), b(42), c(43), d(42, 1);
  std::vector<std::uint64_t> va, vb, vc, vd;
  for (int i = 0; i < 100; ++i) {
    va.push_back(a());
    vb.push_back(b());
    vc.push_back(c());
    vd.push_back(d());
  }
  CHECK(va == vb);
  CHECK(va != vc);
  CHECK(va != vd);
}

TEST_CASE("Rng: xoshiro256++ matches the reference algorithm for a known state") {
  // Reference: xoshiro256plusplus.c (Blackman & Vigna) with s = {1, 2, 3, 4}.
  Rng r;
  r.set_state({{1, 2, 3, 4}, 0.0, false});
  CHECK(r() == 41943041ULL);
  CHECK(r() == 58720359ULL);
  CHECK(r() == 3588806011781223ULL);
}

TEST_CASE("Rng: uniform draws lie in the unit interval with the right moments") {
  Rng r(1);
  const int n = 200000;
  double sum = 0, sum2 = 0;
  float fmin = 1, fmax = 0;
  for (int i = 0; i < n; ++i) {
    const double u = r.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
    sum2 += u * u;
    const float f = r.uniform<float>();
    fmin = std::min(fmin, f);
    fmax = std::max(fmax, f);
  }
  CHECK(fmin >= 0.0f);
  CHECK(fmax < 1.0f);
  const double mean = sum / n, var = sum2 / n - mean * mean;
  CHECK(mean == doctest::Approx(0.5).epsilon(0.01));
  CHECK(var == doctest::Approx(1.0 / 12.0).epsilon(0.02));
}

TEST_CASE("Rng: normal draws have mean 0, variance 1, the right tails") {
  Rng r(2);
  const int n = 400000;
  double sum = 0, sum2 = 0, sum4 = 0;
  int beyond2 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = r.normal();
    REQUIRE(std::isfinite(z));
    sum += z;
    sum2 += z * z;
    sum4 += z * z * z * z;
    beyond2 += std::abs(z) > 2.0;
  }
  const double mean = sum / n;
  CHECK(std::abs(mean) < 0.01);
  CHECK(sum2 / n == doctest::Approx(1.0).epsilon(0.01));
  CHECK(sum4 / n == doctest::Approx(3.0).epsilon(0.03));          // kurtosis of a normal
  CHECK(double(beyond2) / n == doctest::Approx(0.0455).epsilon(0.05));  // P(|z| > 2)
}

TEST_CASE("Rng: saving and restoring the state replays the same draws, cached normal included") {
  Rng r(5);
  (void)r.normal();  // leaves the second Box-Muller value cached
  const auto saved = r.state();
  std::vector<double> first;
  for (int i = 0; i < 9; ++i) first.push_back(r.normal() + r.uniform());
  r.set_state(saved);
  for (int i = 0; i < 9; ++i) CHECK(first[std::size_t(i)] == r.normal() + r.uniform());
}

TEST_CASE("Rng: below(n) is uniform over 0 .. n-1") {
  Rng r(9);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[r.below(7)];
  for (int c : counts) CHECK(c == doctest::Approx(10000).epsilon(0.05));
}

TEST_CASE("Rng: fill_normal fills every coefficient in column-major order") {
  Rng a(3), b(3);
  Eigen::MatrixXf m(3, 4);
  a.fill_normal(m);
  for (int j = 0; j < 4; ++j)
    for (int i = 0; i < 3; ++i) CHECK(m(i, j) == b.normal<float>());
}

TEST_CASE("Rng: fill_normal_fast draws standard normals: moments, tails and Kolmogorov-Smirnov over 10^7 draws") {
  Rng r(11);
  const Eigen::Index n = 10'000'000;
  Eigen::VectorXf z(n);
  r.fill_normal_fast(z);
  REQUIRE(z.allFinite());
  const double mean = z.cast<double>().mean();
  const double variance = (z.cast<double>().array() - mean).square().mean();
  const double sd_of_mean = 1 / std::sqrt(double(n)), sd_of_variance = std::sqrt(2.0 / double(n));
  CHECK(std::abs(mean) < 5 * sd_of_mean);
  CHECK(std::abs(variance - 1) < 5 * sd_of_variance);
  // P(|z| > k) for k = 1 .. 5, each count within 5 binomial standard deviations (+1 for the far tail)
  for (int k = 1; k <= 5; ++k) {
    const double p = std::erfc(k / std::sqrt(2.0));
    const double count = double((z.array().abs() > float(k)).count());
    const double expected = p * double(n), sd = std::sqrt(double(n) * p * (1 - p));
    CAPTURE(k);
    CAPTURE(count);
    CAPTURE(expected);
    CHECK(std::abs(count - expected) < 5 * sd + 1);
  }
  // neighbours (the two values of a pair sit 16 apart; plain neighbours come from different pairs)
  for (int lag : {1, 16}) {
    const double c = (z.head(n - lag).cast<double>().array() * z.tail(n - lag).cast<double>().array()).mean();
    CAPTURE(lag);
    CHECK(std::abs(c) < 5 * sd_of_mean);
  }
  // the angle of each Box–Muller pair (cosine at k, sine at k + 16 of a block of 32) is uniform:
  // χ² over 64 sectors against the 0.1% critical value of χ²(63)
  {
    std::vector<double> sectors(64, 0.0);
    for (Eigen::Index b = 0; b + 32 <= n; b += 32)
      for (int k = 0; k < 16; ++k) {
        const double angle = std::atan2(double(z[b + 16 + k]), double(z[b + k]));
        const auto sector = std::min<std::size_t>(63, std::size_t((angle + std::numbers::pi) / (2 * std::numbers::pi) * 64));
        sectors[sector] += 1;
      }
    const double expected = double(n / 32 * 16) / 64;
    double chi2 = 0;
    for (double c : sectors) chi2 += (c - expected) * (c - expected) / expected;
    CAPTURE(chi2);
    CHECK(chi2 < 103.4);
  }
  std::vector<float> sorted(z.data(), z.data() + n);
  std::sort(sorted.begin(), sorted.end());
  double d = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const double f = 0.5 * std::erfc(-double(sorted[std::size_t(i)]) / std::sqrt(2.0));
    d = std::max({d, std::abs(f - double(i) / double(n)), std::abs(f - double(i + 1) / double(n))});
  }
  CHECK(d < 1.95 / std::sqrt(double(n)));  // the 0.1% critical value
}

TEST_CASE("Rng: fill_normal_fast depends only on the state and the size, in column-major order") {
  Rng a(4), b(4), c(5);
  Eigen::MatrixXd m(3, 5);
  Eigen::VectorXf v(40);
  a.fill_normal_fast(m);
  b.fill_normal_fast(v);
  for (int j = 0; j < 5; ++j)
    for (int i = 0; i < 3; ++i) CHECK(m(i, j) == double(v(3 * j + i)));
  // every call takes 32 draws (the seeds of its eight lane generators), whatever the size
  Rng e(4), f(4);
  Eigen::VectorXf block(32);
  e.fill_normal_fast(block);
  for (int k = 0; k < 32; ++k) f();
  CHECK(a.state() == e.state());
  CHECK(b.state() == e.state());
  CHECK(f.state() == e.state());
  Eigen::MatrixXd again(3, 5);
  Rng a2(4);
  a2.fill_normal_fast(again);
  CHECK(again == m);
  Eigen::MatrixXd other(3, 5);
  c.fill_normal_fast(other);
  CHECK(other != m);
  // a block of a matrix is filled in place
  Eigen::MatrixXf big = Eigen::MatrixXf::Zero(4, 4);
  Rng d(4);
  d.fill_normal_fast(big.block(1, 1, 3, 3));
  CHECK(big.row(0).isZero());
  CHECK(big(1, 1) == float(m(0, 0)));
  CHECK(big(1, 2) == float(m(0, 1)));
}

}  // namespace test_rng
