#include <doctest/doctest.h>

#include <cmath>
#include <spindle/core/rng.hpp>
#include <vector>

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
