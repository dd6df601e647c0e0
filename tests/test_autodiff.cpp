#include <doctest/doctest.h>

#include <Eigen/Dense>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <spindle/autodiff.hpp>
#include <spindle/core/rng.hpp>
#include <string>

#include "alloc_counter.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_autodiff {

using namespace spindle::autodiff;
using Vars = std::span<const Var<double>>;
using Fn = std::function<Var<double>(Tape<double>&, Vars)>;

namespace {
spindle::Rng g_rng(2024);

Eigen::MatrixXd random(Eigen::Index r, Eigen::Index c, double lo = -1.5, double hi = 1.5) {
  Eigen::MatrixXd m(r, c);
  for (Eigen::Index i = 0; i < m.size(); ++i) m(i) = g_rng.uniform(lo, hi);
  return m;
}
// A loss that weighs every output coefficient differently, so each gradient entry is tested.
Var<double> weighted_sum(Var<double> y) {
  Eigen::MatrixXd w(y.rows(), y.cols());
  for (Eigen::Index i = 0; i < w.size(); ++i) w(i) = 0.5 + 0.37 * double(i % 7) - 0.11 * double(i % 3);
  return sum(y * y.tape->constant(w));
}
void check_grad(const std::string& name, const Fn& f, const std::vector<Eigen::MatrixXd>& inputs) {
  CAPTURE(name);
  const auto r = gradcheck([&](Tape<double>& t, Vars x) { return weighted_sum(f(t, x)); }, inputs);
  CAPTURE(r.worst_input);
  CAPTURE(r.worst_index);
  CHECK(r.max_relative_error < 1e-6);
}
}  // namespace

TEST_CASE("gradcheck: unary operations on random shapes") {
  const std::vector<std::pair<std::string, std::function<Var<double>(Var<double>)>>> ops = {
      {"tanh", [](Var<double> x) { return tanh(x); }},
      {"relu", [](Var<double> x) { return relu(x); }},
      {"elu", [](Var<double> x) { return elu(x, 0.7); }},
      {"gelu", [](Var<double> x) { return gelu(x); }},
      {"softplus", [](Var<double> x) { return softplus(x); }},
      {"sigmoid", [](Var<double> x) { return sigmoid(x); }},
      {"exp", [](Var<double> x) { return exp(x); }},
      {"square", [](Var<double> x) { return square(x); }},
      {"abs", [](Var<double> x) { return abs(x); }},
      {"clamp", [](Var<double> x) { return clamp(x, -0.5, 0.8); }},
      {"add_scalar", [](Var<double> x) { return 2.5 + x - 1.0; }},
      {"mul_scalar", [](Var<double> x) { return 3.0 * x / 2.0; }},
      {"neg", [](Var<double> x) { return -x; }},
      {"rsub_scalar", [](Var<double> x) { return 1.0 - x; }},
      {"transpose", [](Var<double> x) { return transpose(x); }},
  };
  for (auto [r, c] : {std::pair{1, 1}, {1, 5}, {4, 1}, {3, 7}}) {
    // Keep away from kinks (relu/abs at 0, clamp at its bounds) where the derivative is undefined.
    Eigen::MatrixXd x = random(r, c);
    for (Eigen::Index i = 0; i < x.size(); ++i)
      if (std::abs(x(i)) < 0.05 || std::abs(x(i) + 0.5) < 0.05 || std::abs(x(i) - 0.8) < 0.05) x(i) += 0.13;
    for (const auto& [name, unary] : ops) {
      const auto& op = unary;  // a named copy: Clang 14 cannot capture a structured binding
      check_grad(name, [&](Tape<double>&, Vars v) { return op(v[0]); }, {x});
    }
  }
  // Functions of positive inputs.
  const Eigen::MatrixXd pos = random(3, 4, 0.2, 2.0);
  check_grad("log", [](Tape<double>&, Vars v) { return log(v[0]); }, {pos});
  check_grad("sqrt", [](Tape<double>&, Vars v) { return sqrt(v[0]); }, {pos});
  // softplus above its linear threshold
  check_grad("softplus_large", [](Tape<double>&, Vars v) { return softplus(v[0]); }, {random(2, 2, 21, 25)});
}

TEST_CASE("gradcheck: binary operations with every broadcasting pattern") {
  const std::vector<std::pair<std::string, std::function<Var<double>(Var<double>, Var<double>)>>> ops = {
      {"add", [](Var<double> a, Var<double> b) { return a + b; }},
      {"sub", [](Var<double> a, Var<double> b) { return a - b; }},
      {"mul", [](Var<double> a, Var<double> b) { return a * b; }},
      {"div", [](Var<double> a, Var<double> b) { return a / b; }},
      {"minimum", [](Var<double> a, Var<double> b) { return minimum(a, b); }},
      {"maximum", [](Var<double> a, Var<double> b) { return maximum(a, b); }},
  };
  const std::vector<std::pair<std::pair<int, int>, std::pair<int, int>>> shapes = {
      {{3, 4}, {3, 4}}, {{3, 4}, {3, 1}}, {{3, 4}, {1, 4}}, {{3, 4}, {1, 1}}, {{3, 1}, {3, 4}},
      {{1, 4}, {3, 4}}, {{1, 1}, {3, 4}}, {{1, 4}, {3, 1}}, {{1, 1}, {1, 1}}, {{1, 5}, {1, 5}},
  };
  for (const auto& [sa, sb] : shapes) {
    const Eigen::MatrixXd a = random(sa.first, sa.second);
    Eigen::MatrixXd b = random(sb.first, sb.second);
    for (Eigen::Index i = 0; i < b.size(); ++i)
      if (std::abs(b(i)) < 0.3) b(i) = 0.3 + b(i);  // divisors away from 0
    for (const auto& [name, binary] : ops)
      check_grad(name + " " + std::to_string(sa.first) + "x" + std::to_string(sa.second) + " . " +
                     std::to_string(sb.first) + "x" + std::to_string(sb.second),
                 [&op = binary](Tape<double>&, Vars v) { return op(v[0], v[1]); }, {a, b});
  }
}

TEST_CASE("gradcheck: reductions, softmax, logsumexp") {
  for (auto [r, c] : {std::pair{1, 1}, {1, 6}, {5, 1}, {4, 3}}) {
    const Eigen::MatrixXd x = random(r, c);
    check_grad("sum", [](Tape<double>&, Vars v) { return sum(v[0]) * sum(v[0]); }, {x});
    check_grad("mean", [](Tape<double>&, Vars v) { return mean(v[0]) * mean(v[0]); }, {x});
    check_grad("sum_over_rows", [](Tape<double>&, Vars v) { return sum_over_rows(v[0]); }, {x});
    check_grad("mean_over_rows", [](Tape<double>&, Vars v) { return mean_over_rows(v[0]); }, {x});
    check_grad("sum_over_cols", [](Tape<double>&, Vars v) { return sum_over_cols(v[0]); }, {x});
    check_grad("mean_over_cols", [](Tape<double>&, Vars v) { return mean_over_cols(v[0]); }, {x});
    check_grad("softmax_over_rows", [](Tape<double>&, Vars v) { return softmax_over_rows(v[0]); }, {x});
    check_grad("softmax_over_cols", [](Tape<double>&, Vars v) { return softmax_over_cols(v[0]); }, {x});
    check_grad("logsumexp_over_rows", [](Tape<double>&, Vars v) { return logsumexp_over_rows(v[0]); }, {x});
    check_grad("logsumexp_over_cols", [](Tape<double>&, Vars v) { return logsumexp_over_cols(v[0]); }, {x});
  }
}

TEST_CASE("gradcheck: matmul, linear with every activation, slices, concat, stop_gradient") {
  const Eigen::MatrixXd A = random(3, 4), B = random(4, 5), x = random(4, 6), W = random(3, 4), b = random(3, 1);
  check_grad("matmul", [](Tape<double>&, Vars v) { return matmul(v[0], v[1]); }, {A, B});
  check_grad("matmul vector", [](Tape<double>&, Vars v) { return matmul(v[0], v[1]); }, {A, random(4, 1)});
  check_grad("matmul_tn", [](Tape<double>&, Vars v) { return matmul_tn(v[0], v[1]); }, {random(4, 3), random(4, 5)});
  check_grad("matmul_tn large", [](Tape<double>&, Vars v) { return matmul_tn(v[0], v[1]); }, {random(40, 30), random(40, 20)});
  {
    Tape<double> t;
    const Eigen::MatrixXd a = random(6, 3), b = random(6, 2);
    CHECK((matmul_tn(t.constant(a), t.constant(b)).value() - a.transpose() * b).norm() < 1e-14);
    CHECK_THROWS_AS(matmul_tn(t.constant(a), t.constant(random(5, 2))), spindle::shape_error);
  }
  for (Activation act : {Activation::identity, Activation::tanh, Activation::relu, Activation::elu, Activation::gelu,
                         Activation::softplus, Activation::sigmoid})
    for (Eigen::Index batch : {1, 6}) {
      Eigen::MatrixXd xb = x.leftCols(batch);
      check_grad("linear " + std::string(to_string(act)) + " batch " + std::to_string(batch),
                 [act](Tape<double>&, Vars v) { return linear(v[0], v[1], v[2], act); }, {xb, W, b});
      check_grad("activate " + std::string(to_string(act)),
                 [act](Tape<double>&, Vars v) { return activate(v[0], act); }, {xb});
    }
  const Eigen::MatrixXd m = random(5, 4);
  check_grad("slice_rows", [](Tape<double>&, Vars v) { return slice_rows(v[0], 1, 3); }, {m});
  check_grad("slice_cols", [](Tape<double>&, Vars v) { return slice_cols(v[0], 2, 2); }, {m});
  check_grad("two slices of one value",
             [](Tape<double>&, Vars v) { return slice_rows(v[0], 0, 2) * slice_rows(v[0], 3, 2); }, {m});
  check_grad("concat_rows", [](Tape<double>&, Vars v) { return concat_rows(v[0], v[1]); }, {random(2, 3), random(4, 3)});
  check_grad("concat_cols", [](Tape<double>&, Vars v) { return concat_cols(v[0], v[1]); }, {random(3, 2), random(3, 1)});
}

template <class S>
void check_small_gemm() {
  using G = detail::SmallGemm<S>;
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  const Eigen::Index w = G::width;
  // Row counts covering full MR-packet panels, every leftover of fewer packets and both; column
  // counts covering every remainder of the NR-column blocks.
  for (Eigen::Index packets = 1; packets <= 2 * G::mr + 1; ++packets)
    for (Eigen::Index m = packets * w, n = 1; n <= 2 * G::nr + 1; ++n)
      for (Eigen::Index k : {1, 7, 64}) {
        CAPTURE(m);
        CAPTURE(n);
        CAPTURE(k);
        const M A = M::Random(m, k), X = M::Random(k, n), XT = X.transpose(), C0 = M::Random(m, n);
        const M expected_set = A * X, expected_add = C0 + A * X;
        M set(m, n), add = C0, set_t(m, n);
        G::template run<false>(m, n, k, A.data(), m, X.data(), 1, k, set.data(), m);
        G::template run<true>(m, n, k, A.data(), m, X.data(), 1, k, add.data(), m);
        G::template run<false>(m, n, k, A.data(), m, XT.data(), n, 1, set_t.data(), m);  // A · (Xᵀ)ᵀ
        const double tol = std::is_same_v<S, float> ? 1e-4 : 1e-12;
        CHECK((set - expected_set).cwiseAbs().maxCoeff() <= tol * double(k));
        CHECK((add - expected_add).cwiseAbs().maxCoeff() <= tol * double(k));
        CHECK((set_t - expected_set).cwiseAbs().maxCoeff() <= tol * double(k));
      }
  // A dense layer's forward in one pass (run_dense): the bits of C = bias, C += A · X, then
  // Eigen's max(C, 0) for ReLU — NaN included — for every panel and block remainder.
  for (Eigen::Index packets = 1; packets <= 2 * G::mr + 1; ++packets)
    for (Eigen::Index n : {Eigen::Index(1), Eigen::Index(2), Eigen::Index(G::nr), Eigen::Index(G::nr + 1), Eigen::Index(3 * G::nr + 2)})
      for (bool relu : {false, true}) {
        const Eigen::Index m = packets * w, k = 19;
        CAPTURE(m);
        CAPTURE(n);
        CAPTURE(relu);
        M A = M::Random(m, k);
        const M X = M::Random(k, n), bias = M::Random(m, 1);
        A(0, 3) = std::numeric_limits<S>::quiet_NaN();  // row 0 of every column is NaN
        M fused(m, n), expected(m, n);
        expected.colwise() = bias.col(0);
        G::template run<true>(m, n, k, A.data(), m, X.data(), 1, k, expected.data(), m);
        if (relu) expected = expected.array().max(S(0)).matrix();
        G::run_dense(m, n, k, A.data(), m, X.data(), 1, k, fused.data(), m, bias.data(), relu);
        CHECK(std::isnan(fused(0, n - 1)));
        CHECK(std::memcmp(fused.data(), expected.data(), sizeof(S) * std::size_t(m * n)) == 0);
      }
  // One column (acting with one environment) runs up to gemv_packets packets side by side:
  // every row count, and each coefficient has the bits it has inside a wider batch.
  for (Eigen::Index packets = 1; packets <= 2 * G::gemv_packets + 3; ++packets) {
    const Eigen::Index m = packets * w, k = 37;
    CAPTURE(m);
    const M A = M::Random(m, k), X = M::Random(k, 5);
    M one(m, 1), batch(m, 5);
    G::template run<false>(m, 1, k, A.data(), m, X.data(), 1, k, one.data(), m);
    G::template run<false>(m, 5, k, A.data(), m, X.data(), 1, k, batch.data(), m);
    CHECK(std::memcmp(one.data(), batch.data(), sizeof(S) * std::size_t(m)) == 0);
    CHECK((one - A * X.col(0)).cwiseAbs().maxCoeff() <= (std::is_same_v<S, float> ? 1e-4 : 1e-12) * double(k));
  }
  // Few columns with many rows and a long inner dimension (an LSTM(256)'s W_hh times a few
  // sequences): read in place past max_dimension where the caller opts in (applies_narrow).
  for (Eigen::Index n : {Eigen::Index(1), Eigen::Index(3), G::narrow_max}) {
    const Eigen::Index m = 4 * G::max_dimension + w, k = G::max_dimension + 37;
    CAPTURE(n);
    REQUIRE(G::applies_narrow(m, n, k));
    CHECK_FALSE(G::applies(m, n, k));
    const M A = M::Random(m, k), X = M::Random(k, n), C0 = M::Random(m, n);
    M add = C0;
    G::template run<true>(m, n, k, A.data(), m, X.data(), 1, k, add.data(), m);
    CHECK((add - (C0 + A * X)).cwiseAbs().maxCoeff() <= (std::is_same_v<S, float> ? 1e-4 : 1e-12) * double(k));
  }
  // Aᵀ · B by dot products (A k × m read in place): every remainder of the 4 × 4 register block,
  // inner sizes with and without a scalar tail.
  for (Eigen::Index m : {1, 3, 4, 5, 9})
    for (Eigen::Index n = 1; n <= 9; ++n)
      for (Eigen::Index k : {w, w + 3, 4 * w + 1, Eigen::Index(1024)}) {
        CAPTURE(m);
        CAPTURE(n);
        CAPTURE(k);
        REQUIRE(G::applies_transposed_a(m, n, k));
        const M A = M::Random(k + 2, m), X = M::Random(k + 1, n), C0 = M::Random(m, n);  // lda k + 2, ldb k + 1
        M set(m, n), add = C0;
        G::template run_transposed_a<false>(m, n, k, A.data(), k + 2, X.data(), k + 1, set.data(), m);
        G::template run_transposed_a<true>(m, n, k, A.data(), k + 2, X.data(), k + 1, add.data(), m);
        const M expected = A.topRows(k).transpose() * X.topRows(k);
        const double tol = (std::is_same_v<S, float> ? 1e-4 : 1e-12) * double(k);
        CHECK((set - expected).cwiseAbs().maxCoeff() <= tol);
        CHECK((add - (C0 + expected)).cwiseAbs().maxCoeff() <= tol);
      }
  CHECK_FALSE(G::applies_transposed_a(4, G::narrow_max + 1, 64));
  CHECK_FALSE(G::applies(w + 1, 4, 4));  // rows not a whole number of packets: Eigen's product
  CHECK_FALSE(G::applies(w, 4, G::max_dimension + 1));
  CHECK_FALSE(G::applies_narrow(G::max_dimension + w, G::narrow_max + 1, 4));  // large and wide: Eigen's blocked GEMM
}

TEST_CASE("SmallGemm: equals Eigen's product for every block remainder, float and double") {
  check_small_gemm<float>();
  check_small_gemm<double>();
  // linear() goes through it when the output width is a whole number of packets, and its
  // backward for the input (Wᵀ G) when the input width is too and the batch has 8+ columns.
  const Eigen::MatrixXd b = random(16, 1);
  for (Eigen::Index in : {5, 16})
    for (Eigen::Index batch : {7, 9}) {
      const Eigen::MatrixXd x = random(in, batch), W = random(16, in);
      check_grad("linear 16 wide, input " + std::to_string(in) + ", batch " + std::to_string(batch),
                 [](Tape<double>&, Vars v) { return linear(v[0], v[1], v[2], Activation::tanh); }, {x, W, b});
    }
}

namespace {
// product_into must be Eigen's product bit for bit (it only moves GEMM's packing workspace off
// the heap), for every dispatch branch: coefficient-wise (tiny), GEMV (a vector result), and the
// blocked GEMM below and above Eigen's 128 KB stack limit; operands plain or transposed, blocks.
template <class S>
void check_product_into() {
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  const auto same = [](const M& a, const M& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(S) * std::size_t(a.size())) == 0;
  };
  for (const auto& mkn : {std::array<Eigen::Index, 3>{3, 4, 5}, {1, 64, 32}, {39, 64, 1}, {8, 300, 200},
                           {39, 256, 256}, {130, 70, 90}, {7, 520, 33}})
    for (int transposes = 0; transposes < 4; ++transposes) {
      const Eigen::Index m = mkn[0], k = mkn[1], n = mkn[2];  // not bindings: CAPTURE takes them in a lambda
      const bool ta = transposes & 1, tb = transposes & 2;
      const M A = random(ta ? k : m, ta ? m : k).template cast<S>();
      const M B = random(tb ? n + 3 : k, tb ? k : n).template cast<S>();  // tb: a block of a taller matrix
      const M C0 = random(m, n).template cast<S>();
      for (const bool accumulate : {false, true}) {
        M expected = C0, got = C0;
        const auto run = [&](M& C, auto&& lhs, auto&& rhs, bool mine) {
          if (mine) detail::product_into(C, accumulate, lhs, rhs);
          else if (accumulate) C.noalias() += lhs * rhs;
          else C.noalias() = lhs * rhs;
        };
        for (const bool mine : {false, true}) {
          M& C = mine ? got : expected;
          if (!ta && !tb) run(C, A, B, mine);
          if (ta && !tb) run(C, A.transpose(), B, mine);
          if (!ta && tb) run(C, A, B.topRows(n).transpose(), mine);
          if (ta && tb) run(C, A.transpose(), B.topRows(n).transpose(), mine);
        }
        CAPTURE(m);
        CAPTURE(k);
        CAPTURE(n);
        CAPTURE(transposes);
        CAPTURE(accumulate);
        CHECK(same(got, expected));
      }
    }
  // Into a block of a taller matrix (Lattice writes its variances so), and without allocating.
  const M A = random(256, 80).template cast<S>(), B = random(256, 256).template cast<S>();
  M C = M::Zero(90, 256), expected = C;
  expected.topRows(80).noalias() = A.transpose() * B;
  detail::product_into(C.topRows(80), false, A.transpose(), B);
  CHECK(same(C, expected));
  const auto before = spindle_test::allocations();
  for (int i = 0; i < 3; ++i) detail::product_into(C.topRows(80), true, A.transpose(), B);
  CHECK(spindle_test::allocations() == before);
}
}  // namespace

TEST_CASE("product_into: Eigen's product bit for bit, without heap allocation") {
  check_product_into<float>();
  check_product_into<double>();
}

namespace {
// normal_log_prob's forward as one Eigen expression (how it was first written): the loop
// kernel must give the same bits, so rewriting it changed no training run.
template <class S>
void check_normal_log_prob_bits() {
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  for (Eigen::Index A : {1, 3, 8, 39, 80, 130})
    for (Eigen::Index B : {1, 5, 64})
      for (int shape = 0; shape < 4; ++shape) {
        const Eigen::Index sr = shape & 1 ? A : 1, sc = shape & 2 ? B : 1;
        const M x = random(A, B).template cast<S>(), mu = random(A, B).template cast<S>();
        const M sd = random(sr, sc, 0.05, 3.0).template cast<S>();
        const auto s = sd.replicate(A / sr, B / sc).array();
        M log_sd(sd.rows(), sd.cols());  // ln σ is log_values', whose bits depend on the value alone
        detail::log_values(sd.data(), log_sd.data(), sd.size());
        const auto log_s = log_sd.replicate(A / sr, B / sc).array();
        const M expected = (S(-0.5) * ((x.array() - mu.array()) / s).square() - log_s).colwise().sum() -
                           S(A) * S(0.91893853320467274178032973640562);
        Tape<S> t;
        t.set_grad_enabled(false);
        const M got = normal_log_prob(t.constant(x), t.constant(mu), t.constant(sd)).value();
        CAPTURE(A);
        CAPTURE(B);
        CAPTURE(shape);
        CHECK(std::memcmp(got.data(), expected.data(), sizeof(S) * std::size_t(B)) == 0);
      }
}
}  // namespace

namespace {
// normal_log_prob's backward as Eigen expressions over the broadcast σ (how it was first
// written, with σ's gradient summed over the broadcast dimensions): the loops that replaced the
// Replicate expressions must give the same bits, so they changed no training run.
template <class S>
void check_normal_log_prob_backward_bits() {
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  for (Eigen::Index A : {1, 3, 8, 39})
    for (Eigen::Index B : {1, 5, 64, 100})
      for (int shape = 0; shape < 4; ++shape) {
        const Eigen::Index sr = shape & 1 ? A : 1, sc = shape & 2 ? B : 1;
        const M x = random(A, B).template cast<S>(), mu = random(A, B).template cast<S>();
        const M sd = random(sr, sc, 0.05, 3.0).template cast<S>();
        const M g = random(1, B).template cast<S>();
        const auto s = sd.replicate(A / sr, B / sc).array();
        const auto G = g.replicate(A, 1).array();
        const auto z = (x.array() - mu.array()) / s;
        const M dx = (-G * z / s).matrix(), dmu = (G * z / s).matrix();
        const auto d_sd = (G * (z.square() - S(1)) / s).matrix();
        M ds;
        if (sr == A && sc == B) ds = d_sd;
        else if (sr == 1 && sc == 1) ds = M::Constant(1, 1, d_sd.sum());
        else if (sc == 1) ds = d_sd.rowwise().sum();
        else ds = d_sd.colwise().sum();
        Tape<S> t;
        const Var<S> vx = t.variable(x), vmu = t.variable(mu), vsd = t.variable(sd);
        t.backward(sum(normal_log_prob(vx, vmu, vsd) * t.constant(g)));
        CAPTURE(A);
        CAPTURE(B);
        CAPTURE(shape);
        CHECK(M(t.grad(vx.id)) == dx);  // exact: == on every coefficient
        CHECK(M(t.grad(vmu.id)) == dmu);
        CHECK(M(t.grad(vsd.id)) == ds);
      }
}

// minimum's backward on operands of the output's shape (no Replicate) against the broadcast form.
template <class S>
void check_binary_backward_bits() {
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  for (Eigen::Index B : {1, 7, 256}) {
    M a = random(2, B).template cast<S>();
    const M b = random(2, B).template cast<S>(), w = random(2, B).template cast<S>();
    a(0, 0) = b(0, 0);  // a tie: half the gradient each way
    const auto A = a.replicate(1, 1).array(), Bb = b.replicate(1, 1).array();  // the broadcast form
    const auto pick_a = (A < Bb).template cast<S>();
    const auto tie = (A == Bb).template cast<S>() * S(0.5);
    const M da = (w.array() * (pick_a + tie)).matrix(), db = (w.array() * (S(1) - pick_a - tie)).matrix();
    Tape<S> t;
    const Var<S> va = t.variable(a), vb = t.variable(b);
    t.backward(sum(minimum(va, vb) * t.constant(w)));
    CAPTURE(B);
    CHECK(M(t.grad(va.id)) == da);
    CHECK(M(t.grad(vb.id)) == db);
  }
}
}  // namespace

TEST_CASE("normal_log_prob and minimum backward: the same bits as the broadcast Eigen expressions") {
  check_normal_log_prob_backward_bits<float>();
  check_normal_log_prob_backward_bits<double>();
  check_binary_backward_bits<float>();
  check_binary_backward_bits<double>();
}

TEST_CASE("log_values: accurate, and each value's bits independent of count and position") {
  const auto check = [](auto zero) {
    using S = decltype(zero);
    using V = Eigen::Matrix<S, Eigen::Dynamic, 1>;
    const V x = random(45, 1, 1e-3, 50.0).template cast<S>();
    V full(x.size());
    detail::log_values(x.data(), full.data(), x.size());
    for (Eigen::Index i = 0; i < x.size(); ++i)
      CHECK(std::abs(full(i) - std::log(x(i))) <= 4 * std::numeric_limits<S>::epsilon() * std::max(S(1), std::abs(full(i))));
    // every count from 1 (padded, half packets, whole packets with an overlapping last one) and
    // every start (other lanes)
    for (Eigen::Index start = 0; start < 9; ++start)
      for (Eigen::Index n = 1; start + n <= x.size(); ++n) {
        V part(n);
        detail::log_values(x.data() + start, part.data(), n);
        CAPTURE(start);
        CAPTURE(n);
        CHECK(std::memcmp(part.data(), full.data() + start, sizeof(S) * std::size_t(n)) == 0);
      }
  };
  check(0.0f);
  check(0.0);
}

TEST_CASE("normal_log_prob: the same bits as the plain Eigen expression, every std shape") {
  check_normal_log_prob_bits<float>();
  check_normal_log_prob_bits<double>();
}

TEST_CASE("stop_gradient blocks the gradient, a value used twice accumulates") {
  Tape<double> t;
  auto x = t.variable(Eigen::MatrixXd::Constant(1, 1, 3.0));
  t.backward(sum(x * stop_gradient(x)));
  CHECK(x.grad()(0, 0) == doctest::Approx(3.0));  // d(x·c)/dx = c, not 2x
  t.clear();
  auto y = t.variable(Eigen::MatrixXd::Constant(1, 1, 3.0));
  t.backward(sum(y * y + y));
  CHECK(y.grad()(0, 0) == doctest::Approx(7.0));
}

TEST_CASE("shape errors name the operation and both shapes") {
  Tape<float> t;
  auto a = t.constant(Eigen::MatrixXf::Zero(3, 4));
  auto b = t.constant(Eigen::MatrixXf::Zero(2, 4));
  CHECK_THROWS_WITH_AS(a + b, "add: shapes (3, 4) and (2, 4) do not broadcast", spindle::shape_error);
  CHECK_THROWS_WITH_AS(matmul(a, b), "matmul: shapes (3, 4) and (2, 4) do not multiply", spindle::shape_error);
  auto W = t.constant(Eigen::MatrixXf::Zero(5, 2));
  auto bias = t.constant(Eigen::MatrixXf::Zero(5, 1));
  CHECK_THROWS_WITH_AS(linear(a, W, bias),
                       "linear: input has shape (3, 4), expected (2, batch) for a weight of shape (5, 2)",
                       spindle::shape_error);
  CHECK_THROWS_AS(slice_rows(a, 2, 2), spindle::shape_error);
  CHECK_THROWS_AS(concat_rows(a, W), spindle::shape_error);
  CHECK_THROWS_WITH_AS(t.backward(a), "Tape::backward: the loss has shape (3, 4), expected (1, 1)",
                       spindle::shape_error);
}

TEST_CASE("a NaN in the loss is visible in the gradients") {
  Tape<double> t;
  auto x = t.variable(Eigen::MatrixXd::Constant(2, 1, -1.0));
  t.backward(sum(sqrt(x)));
  CHECK_FALSE(x.grad().allFinite());
}

TEST_CASE("the tape reuses its buffers: repeated passes allocate nothing") {
  Tape<float> t;
  Eigen::MatrixXf W = Eigen::MatrixXf::Random(16, 8), Wg = Eigen::MatrixXf::Zero(16, 8);
  Eigen::MatrixXf b = Eigen::MatrixXf::Random(16, 1), bg = Eigen::MatrixXf::Zero(16, 1);
  Eigen::MatrixXf x = Eigen::MatrixXf::Random(8, 32);
  auto pass = [&] {
    t.clear();
    auto in = t.view(x.data(), 8, 32);
    auto h = linear(in, t.parameter(W.data(), Wg.data(), 16, 8), t.parameter(b.data(), bg.data(), 16, 1),
                    Activation::tanh);
    auto loss = mean(square(softmax_over_rows(h) - 0.1f)) + mean(logsumexp_over_rows(h));
    t.backward(loss);
  };
  pass();
  pass();
  const auto before = spindle_test::allocations();
  for (int k = 0; k < 50; ++k) pass();
  CHECK(spindle_test::allocations() == before);
}

TEST_CASE("reshape and transpose_blocks move values as stated and pass gradcheck") {
  using namespace spindle::autodiff;
  const Eigen::Index F = 3, T = 4, B = 2;  // a batch of windows, step-major: row t·F + f
  Eigen::MatrixXd X(F * T, B);
  for (Eigen::Index j = 0; j < B; ++j)
    for (Eigen::Index t = 0; t < T; ++t)
      for (Eigen::Index f = 0; f < F; ++f) X(t * F + f, j) = 100.0 * static_cast<double>(j) + 10.0 * static_cast<double>(t) + static_cast<double>(f);
  Tape<double> tape;
  const auto steps = reshape(tape.constant(X), F, T * B);  // one column per step of each sample
  REQUIRE(steps.rows() == F);
  REQUIRE(steps.cols() == T * B);
  for (Eigen::Index j = 0; j < B; ++j)
    for (Eigen::Index t = 0; t < T; ++t)
      for (Eigen::Index f = 0; f < F; ++f) CHECK(steps.value()(f, j * T + t) == X(t * F + f, j));
  const auto channels = transpose_blocks(tape.constant(X), F, T);  // channel-major: row f·T + t
  for (Eigen::Index j = 0; j < B; ++j)
    for (Eigen::Index t = 0; t < T; ++t)
      for (Eigen::Index f = 0; f < F; ++f) CHECK(channels.value()(f * T + t, j) == X(t * F + f, j));
  const auto back = transpose_blocks(channels, T, F);
  CHECK(back.value() == X);
  Eigen::MatrixXd W(5, F * T);
  spindle::Rng rng(2);
  rng.fill_normal(W);
  rng.fill_normal(X);
  const auto r = gradcheck(
      [&](Tape<double>&, std::span<const Var<double>> v) {
        const auto y = transpose_blocks(reshape(tanh(reshape(v[0], F, T * B)), F * T, B), F, T);
        return sum(square(matmul(v[1], y)));
      },
      {X, W});
  CHECK(r.max_relative_error < 1e-6);
  CHECK_THROWS_WITH_AS(reshape(tape.constant(X), 5, 5), doctest::Contains("cannot be read as"), spindle::shape_error);
  CHECK_THROWS_AS(transpose_blocks(tape.constant(X), 5, 2), spindle::shape_error);
}

TEST_CASE("conv1d: matches a direct convolution and passes gradcheck, stride 1 and 2") {
  using namespace spindle::autodiff;
  for (Eigen::Index stride : {1, 2}) {
    CAPTURE(stride);
    const Eigen::Index c_in = 3, T = 9, c_out = 4, K = 3, B = 2;
    const Eigen::Index t_out = (T - K) / stride + 1;
    spindle::Rng rng(5);
    Eigen::MatrixXd X(c_in * T, B), W(c_out, c_in * K), b(c_out, 1);
    rng.fill_normal(X);
    rng.fill_normal(W);
    rng.fill_normal(b);
    Tape<double> t;
    const auto y = conv1d(t.constant(X), t.constant(W), t.constant(b), T, stride);
    REQUIRE(y.rows() == c_out * t_out);
    for (Eigen::Index j = 0; j < B; ++j)
      for (Eigen::Index o = 0; o < c_out; ++o)
        for (Eigen::Index to = 0; to < t_out; ++to) {
          double direct = b(o, 0);
          for (Eigen::Index c = 0; c < c_in; ++c)
            for (Eigen::Index k = 0; k < K; ++k) direct += W(o, c * K + k) * X(c * T + to * stride + k, j);
          CHECK(y.value()(o * t_out + to, j) == doctest::Approx(direct).epsilon(1e-12));
        }
    const auto r = gradcheck(
        [&](Tape<double>&, std::span<const Var<double>> v) { return sum(tanh(conv1d(v[0], v[1], v[2], T, stride))); },
        {X, W, b});
    CHECK(r.max_relative_error < 1e-6);
  }
  Tape<double> t;
  CHECK_THROWS_AS(conv1d(t.constant(Eigen::MatrixXd::Zero(10, 1)), t.constant(Eigen::MatrixXd::Zero(2, 6)),
                         t.constant(Eigen::MatrixXd::Zero(2, 1)), 3),
                  spindle::shape_error);
}

TEST_CASE("lowrank Gaussian: the batched path (one GEMM for every sample's covariance) equals the per-sample one") {
  // A = 7: per-sample small loops in the batch; past small_factor_max up to batch_factor_max: every factor
  // at once (BatchFactors), against one sample at a time through Eigen's kernels; past that: Eigen in both.
  // L = 16 (whole packets) takes the batch-parallel route's in-place K products, L = 9 Eigen's; B = 11 has
  // a full block of lanes (8 doubles) in the batch loops and a partial one, B = 6 only a partial one.
  const double alpha = 0.7;
  for (const Eigen::Index B : {Eigen::Index(6), Eigen::Index(11)})
  for (const Eigen::Index L : {Eigen::Index(9), Eigen::Index(16)})
  for (const Eigen::Index A : {Eigen::Index(7), detail::small_factor_max + 3, detail::batch_factor_max,
                               detail::batch_factor_max + 1})
  for (bool entropy : {false, true}) {
    REQUIRE(B >= detail::lowrank_batched_from);
    CAPTURE(B);
    CAPTURE(L);
    CAPTURE(A);
    CAPTURE(entropy);
    const Eigen::MatrixXd W = random(A, L), d = random(A, B);
    const Eigen::MatrixXd v = random(A + L, B, 0.05, 1.2);
    // the whole batch (GEMM path) against each column on its own (rank-L update path)
    Tape<double> t;
    Eigen::MatrixXd gW = Eigen::MatrixXd::Zero(A, L), gv = Eigen::MatrixXd::Zero(A + L, B), gd = Eigen::MatrixXd::Zero(A, B);
    Eigen::MatrixXd Wc = W, vc = v, dc = d;
    auto Wp = t.parameter(Wc.data(), gW.data(), A, L);
    auto vp = t.parameter(vc.data(), gv.data(), A + L, B);
    auto dp = t.parameter(dc.data(), gd.data(), A, B);
    auto y = entropy ? lowrank_gaussian_entropy(Wp, vp, alpha) : lowrank_gaussian_log_prob(dp, Wp, vp, alpha);
    t.backward(weighted_sum(y));
    const Eigen::MatrixXd batch = y.value();
    Eigen::MatrixXd gW1 = Eigen::MatrixXd::Zero(A, L);
    for (Eigen::Index b = 0; b < B; ++b) {
      Tape<double> s;
      Eigen::MatrixXd W1 = W, v1 = v.col(b), d1 = d.col(b), gv1 = Eigen::MatrixXd::Zero(A + L, 1), gd1 = Eigen::MatrixXd::Zero(A, 1);
      Eigen::MatrixXd gWb = Eigen::MatrixXd::Zero(A, L);
      auto W1p = s.parameter(W1.data(), gWb.data(), A, L);
      auto v1p = s.parameter(v1.data(), gv1.data(), A + L, 1);
      auto d1p = s.parameter(d1.data(), gd1.data(), A, 1);
      auto y1 = entropy ? lowrank_gaussian_entropy(W1p, v1p, alpha) : lowrank_gaussian_log_prob(d1p, W1p, v1p, alpha);
      // column b's weight in weighted_sum over the batch
      const double weight = 0.5 + 0.37 * double(b % 7) - 0.11 * double(b % 3);
      s.backward(sum(y1 * weight));
      CHECK(std::abs(y1.value()(0, 0) - batch(0, b)) < 1e-12 * (1 + std::abs(batch(0, b))));
      CHECK((gv1 - gv.col(b)).cwiseAbs().maxCoeff() < 1e-10 * (1 + gv.cwiseAbs().maxCoeff()));
      if (!entropy) CHECK((gd1 - gd.col(b)).cwiseAbs().maxCoeff() < 1e-10 * (1 + gd.cwiseAbs().maxCoeff()));
      gW1 += gWb;
    }
    CHECK((gW1 - gW).cwiseAbs().maxCoeff() < 1e-10 * (1 + gW.cwiseAbs().maxCoeff()));
  }
  // and the batched path passes gradcheck on its own (W, v, d; α ≠ 1)
  const Eigen::Index A = 7, L = 9, B = 6;
  const Eigen::MatrixXd W = random(A, L), d = random(A, B);
  const Eigen::MatrixXd v = random(A + L, B, 0.05, 1.2);
  check_grad("lowrank log-prob, batched", [&](Tape<double>&, Vars x) { return lowrank_gaussian_log_prob(x[2], x[0], x[1], alpha); },
             {W, v, d});
  check_grad("lowrank entropy, batched", [&](Tape<double>&, Vars x) { return lowrank_gaussian_entropy(x[0], x[1], alpha); },
             {W, v});
}

TEST_CASE("small factors: the plain-loop Cholesky, solves and inverse equal Eigen's for every size they take") {
  for (Eigen::Index A = 1; A <= detail::small_factor_max; ++A) {
    CAPTURE(A);
    const Eigen::MatrixXd M = random(A, A + 3);
    const Eigen::MatrixXd sigma = M * M.transpose() + 0.1 * Eigen::MatrixXd::Identity(A, A);
    Eigen::MatrixXd chol = sigma;
    chol.triangularView<Eigen::StrictlyUpper>().setConstant(42.0);  // must stay untouched
    REQUIRE(detail::small_cholesky(chol.data(), A));
    const Eigen::MatrixXd expected = Eigen::LLT<Eigen::MatrixXd>(sigma).matrixL();
    CHECK((chol.triangularView<Eigen::Lower>().toDenseMatrix() - expected).cwiseAbs().maxCoeff() < 1e-12);
    CHECK((chol.triangularView<Eigen::StrictlyUpper>().toDenseMatrix().array() == 42.0).count() == A * (A - 1) / 2);
    const Eigen::VectorXd d = random(A, 1);
    Eigen::VectorXd y = d;
    detail::small_solve_lower(chol.data(), A, y.data());
    CHECK((y - expected.triangularView<Eigen::Lower>().solve(d)).cwiseAbs().maxCoeff() < 1e-10);
    detail::small_solve_lower_transposed(chol.data(), A, y.data());
    CHECK((y - sigma.llt().solve(d)).cwiseAbs().maxCoeff() < 1e-9 * (1 + y.cwiseAbs().maxCoeff()));
    Eigen::MatrixXd scratch(A, A), inverse(A, A);
    detail::small_inverse_from_cholesky(chol.data(), A, scratch.data(), inverse.data());
    CHECK((inverse - sigma.inverse()).cwiseAbs().maxCoeff() < 1e-9 * (1 + inverse.cwiseAbs().maxCoeff()));
    CHECK((inverse - inverse.transpose()).cwiseAbs().maxCoeff() == 0.0);
    // not positive definite (a negative direction), and NaN: refused
    Eigen::MatrixXd bad = sigma - 2.0 * sigma.norm() * Eigen::VectorXd::Unit(A, A - 1) * Eigen::VectorXd::Unit(A, A - 1).transpose();
    CHECK_FALSE(detail::small_cholesky(bad.data(), A));
    Eigen::MatrixXd nan = sigma;
    nan(A - 1, A - 1) = std::numeric_limits<double>::quiet_NaN();
    CHECK_FALSE(detail::small_cholesky(nan.data(), A));
  }
}

TEST_CASE("lowrank Gaussian: past the small-factor size (batch-parallel factors, and Eigen's) the gradients still check") {
  const Eigen::Index A = detail::small_factor_max + 3;
  const double alpha = 0.8;
  for (const Eigen::Index L : {Eigen::Index(5), Eigen::Index(8)})  // Eigen's K products; in place (whole packets)
  for (const Eigen::Index B : {Eigen::Index(5), detail::lowrank_batched_from - 1}) {  // all factors at once; one by one
  CAPTURE(L);
  CAPTURE(B);
  const Eigen::MatrixXd W = random(A, L), d = random(A, B), v = random(A + L, B, 0.05, 1.2);
  check_grad("lowrank log-prob, A past small", [&](Tape<double>&, Vars x) { return lowrank_gaussian_log_prob(x[2], x[0], x[1], alpha); },
             {W, v, d});
  check_grad("lowrank entropy, A past small", [&](Tape<double>&, Vars x) { return lowrank_gaussian_entropy(x[0], x[1], alpha); },
             {W, v});
  }
}

TEST_CASE("transpose_into: Eigen's transpose for every tile remainder, float and double, with leading dimensions") {
  auto check = [](auto zero, Eigen::Index rows, Eigen::Index cols, Eigen::Index pad) {
    using S = decltype(zero);
    using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
    M src = M::Zero(rows + pad, cols), dst = M::Constant(cols + pad, rows, S(-7));
    for (Eigen::Index i = 0; i < src.size(); ++i) src(i) = S(i % 97) - S(0.25) * S(i % 13);
    detail::transpose_into(src.data(), rows, cols, rows + pad, dst.data(), cols + pad);
    CHECK(dst.topRows(cols) == src.topRows(rows).transpose());
    CHECK((dst.bottomRows(pad).array() == S(-7)).all());  // nothing written past the block
  };
  for (Eigen::Index rows = 1; rows <= 35; ++rows)
    for (Eigen::Index cols = 1; cols <= 35; ++cols) {
      CAPTURE(rows);
      CAPTURE(cols);
      check(0.0f, rows, cols, 0);
      check(0.0, rows, cols, 3);
    }
  check(0.0f, 256, 256, 0);
  check(0.0f, 39, 256, 5);
}

TEST_CASE("lowrank Gaussian: log-prob and entropy from one node equal the two nodes") {
  // Per-sample loops (A 7), the batch-parallel factors (small_factor_max + 3) and Eigen's per-sample factors
  // (batch_factor_max + 1); B 3 is below the batched route, B 11 has a full and a partial block of lanes.
  const double alpha = 0.7;
  for (const Eigen::Index B : {Eigen::Index(3), Eigen::Index(11)})
  for (const Eigen::Index L : {Eigen::Index(9), Eigen::Index(16)})
  for (const Eigen::Index A : {Eigen::Index(7), detail::small_factor_max + 3, detail::batch_factor_max + 1})
  for (const bool entropy_used : {true, false}) {
    CAPTURE(B);
    CAPTURE(L);
    CAPTURE(A);
    CAPTURE(entropy_used);
    const Eigen::MatrixXd W = random(A, L), d = random(A, B), v = random(A + L, B, 0.05, 1.2);
    const double h_weight = entropy_used ? -0.3 : 0.0;
    struct Run {
      Eigen::MatrixXd logp, entropy, gW, gv, gd;
    };
    auto run = [&](bool joint) {
      Tape<double> t;
      Run r{Eigen::MatrixXd(), Eigen::MatrixXd(), Eigen::MatrixXd::Zero(A, L), Eigen::MatrixXd::Zero(A + L, B),
            Eigen::MatrixXd::Zero(A, B)};
      Eigen::MatrixXd Wc = W, vc = v, dc = d;
      auto Wp = t.parameter(Wc.data(), r.gW.data(), A, L);
      auto vp = t.parameter(vc.data(), r.gv.data(), A + L, B);
      auto dp = t.parameter(dc.data(), r.gd.data(), A, B);
      Var<double> logp, ent;
      if (joint) {
        const auto both = lowrank_gaussian_log_prob_and_entropy(dp, Wp, vp, alpha);
        REQUIRE(both.rows() == 2);
        logp = slice_rows(both, 0, 1);
        ent = slice_rows(both, 1, 1);
      } else {
        logp = lowrank_gaussian_log_prob(dp, Wp, vp, alpha);
        ent = lowrank_gaussian_entropy(Wp, vp, alpha);
      }
      r.logp = logp.value();
      r.entropy = ent.value();
      t.backward(entropy_used ? weighted_sum(logp) + sum(ent) * h_weight : weighted_sum(logp));
      return r;
    };
    const Run two = run(false), one = run(true);
    CHECK(one.logp == two.logp);  // the same factorisation, the same sums
    CHECK(one.entropy == two.entropy);
    if (entropy_used) {  // one ∂/∂Σ for both instead of two summed: rounding apart
      CHECK((one.gW - two.gW).cwiseAbs().maxCoeff() < 1e-10 * (1 + two.gW.cwiseAbs().maxCoeff()));
      CHECK((one.gv - two.gv).cwiseAbs().maxCoeff() < 1e-10 * (1 + two.gv.cwiseAbs().maxCoeff()));
    } else {  // no entropy gradient: ½ and 1 scale exactly, so the log-prob's gradients keep their bits
      CHECK(one.gW == two.gW);
      CHECK(one.gv == two.gv);
    }
    CHECK(one.gd == two.gd);
  }
  const Eigen::Index L = 8, B = 5;
  for (const Eigen::Index A : {Eigen::Index(6), detail::small_factor_max + 3}) {
    CAPTURE(A);
    const Eigen::MatrixXd W = random(A, L), d = random(A, B), v = random(A + L, B, 0.05, 1.2);
    check_grad("lowrank log-prob and entropy, one node",
               [&](Tape<double>&, Vars x) { return lowrank_gaussian_log_prob_and_entropy(x[2], x[0], x[1], alpha); }, {W, v, d});
  }
}

TEST_CASE("packed Lattice covariance: the same log-prob, entropy and gradients as the variances route") {
  // Σ_b = α² W diag(C²ᵀz²_b) Wᵀ + diag(D²ᵀz²_b + r) both ways: lowrank_* from v = [D²ᵀz² + r; C²ᵀz²], and
  // packed_gaussian_* from lattice_packed_covariance. Small factors and Eigen's (A past small_factor_max).
  for (const Eigen::Index A : {Eigen::Index(1), Eigen::Index(6), detail::small_factor_max + 2})
  for (const Eigen::Index B : {Eigen::Index(5), Eigen::Index(2), Eigen::Index(13)}) {  // past small: batch-parallel (13: a full block of lanes); one by one
    CAPTURE(A);
    CAPTURE(B);
    const Eigen::Index L = 7;
    const double alpha = 0.8, reg = 0.03;
    const Eigen::MatrixXd W = random(A, L), d = random(A, B), S2 = random(L, L + A, 0.05, 1.2), z = random(L, B);
    for (bool entropy : {false, true}) {
      CAPTURE(entropy);
      auto run = [&](bool packed, Eigen::MatrixXd& gW, Eigen::MatrixXd& gS, Eigen::MatrixXd& gz, Eigen::MatrixXd& gd) {
        Tape<double> t;
        Eigen::MatrixXd Wc = W, Sc = S2, zc = z, dc = d;
        gW.setZero(A, L), gS.setZero(L, L + A), gz.setZero(L, B), gd.setZero(A, B);
        auto Wp = t.parameter(Wc.data(), gW.data(), A, L);
        auto Sp = t.parameter(Sc.data(), gS.data(), L, L + A);
        auto zp = t.parameter(zc.data(), gz.data(), L, B);
        auto dp = t.parameter(dc.data(), gd.data(), A, B);
        const auto z2 = square(zp);
        Var<double> y;
        if (packed) {
          const auto sigma = lattice_packed_covariance(Wp, Sp, z2, alpha, reg);
          y = entropy ? packed_gaussian_entropy(sigma) : packed_gaussian_log_prob(dp, sigma);
        } else {
          const auto v = matmul_tn(Sp, z2);  // [C²ᵀz²; D²ᵀz²]
          const auto vv = concat_rows(slice_rows(v, L, A) + reg, slice_rows(v, 0, L));
          y = entropy ? lowrank_gaussian_entropy(Wp, vv, alpha) : lowrank_gaussian_log_prob(dp, Wp, vv, alpha);
        }
        t.backward(weighted_sum(y));
        return Eigen::MatrixXd(y.value());
      };
      Eigen::MatrixXd gW0, gS0, gz0, gd0, gW1, gS1, gz1, gd1;
      const Eigen::MatrixXd y0 = run(false, gW0, gS0, gz0, gd0), y1 = run(true, gW1, gS1, gz1, gd1);
      auto close = [](const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
        return (a - b).cwiseAbs().maxCoeff() <= 1e-10 * (1 + b.cwiseAbs().maxCoeff());
      };
      CHECK(close(y1, y0));
      CHECK(close(gW1, gW0));
      CHECK(close(gS1, gS0));
      CHECK(close(gz1, gz0));
      if (!entropy) CHECK(close(gd1, gd0));
    }
    check_grad("packed Lattice log-prob", [&](Tape<double>&, Vars x) {
      return packed_gaussian_log_prob(x[3], lattice_packed_covariance(x[0], x[1], square(x[2]), alpha, reg));
    }, {W, S2, z, d});
    check_grad("packed Lattice entropy", [&](Tape<double>&, Vars x) {
      return packed_gaussian_entropy(lattice_packed_covariance(x[0], x[1], square(x[2]), alpha, reg));
    }, {W, S2, z});
  }
  Tape<double> t;
  CHECK_THROWS_AS(packed_gaussian_entropy(t.constant(Eigen::MatrixXd::Ones(5, 2))), spindle::shape_error);  // 5 ≠ A(A+1)/2
  CHECK_THROWS_AS(packed_gaussian_log_prob(t.constant(Eigen::MatrixXd::Ones(2, 2)), t.constant(Eigen::MatrixXd::Ones(6, 2))),
                  spindle::shape_error);  // P 6 is A 3
  Eigen::MatrixXd not_pd = Eigen::MatrixXd::Ones(3, 1);
  not_pd(1, 0) = 2.0;  // (1, 0) above √(Σ₀₀Σ₁₁)
  CHECK_THROWS_AS(packed_gaussian_entropy(t.constant(not_pd)), spindle::not_positive_definite_error);
  CHECK_THROWS_AS(lattice_packed_covariance(t.constant(Eigen::MatrixXd::Ones(2, 3)), t.constant(Eigen::MatrixXd::Ones(3, 4)),
                                            t.constant(Eigen::MatrixXd::Ones(3, 1)), 1.0),
                  spindle::shape_error);  // S2 must be L × (L + A) = 3 × 5
}

TEST_CASE("packed Lattice covariance: forward and backward allocate nothing after the first pass") {
  const Eigen::Index A = 6, L = 64, B = 64;
  Tape<float> t;
  Eigen::MatrixXf W = Eigen::MatrixXf::Random(A, L), gW = Eigen::MatrixXf::Zero(A, L);
  Eigen::MatrixXf S2 = Eigen::MatrixXf::Random(L, L + A).array().abs() + 0.1f, gS = Eigen::MatrixXf::Zero(L, L + A);
  Eigen::MatrixXf z2 = Eigen::MatrixXf::Random(L, B).array().square(), d = Eigen::MatrixXf::Random(A, B);
  auto pass = [&] {
    t.clear();
    auto Wp = t.parameter(W.data(), gW.data(), A, L);
    auto Sp = t.parameter(S2.data(), gS.data(), L, L + A);
    const auto sigma = lattice_packed_covariance(Wp, Sp, t.view(z2.data(), L, B), 0.9f, 0.01f);
    t.backward(sum(packed_gaussian_log_prob(t.view(d.data(), A, B), sigma)) + sum(packed_gaussian_entropy(sigma)));
  };
  pass();
  pass();
  const auto before = spindle_test::allocations();
  for (int k = 0; k < 5; ++k) pass();
  CHECK(spindle_test::allocations() == before);
}

TEST_CASE("lowrank Gaussian: forward and backward on a batch allocate nothing after the first pass") {
  const Eigen::Index A = 39, L = 64, B = 32;
  Tape<float> t;
  Eigen::MatrixXf W = Eigen::MatrixXf::Random(A, L), gW = Eigen::MatrixXf::Zero(A, L);
  Eigen::MatrixXf v = Eigen::MatrixXf::Random(A + L, B).array().abs() + 0.1f, gv = Eigen::MatrixXf::Zero(A + L, B);
  Eigen::MatrixXf d = Eigen::MatrixXf::Random(A, B);
  auto pass = [&] {
    t.clear();
    auto Wp = t.parameter(W.data(), gW.data(), A, L);
    auto vp = t.parameter(v.data(), gv.data(), A + L, B);
    t.backward(sum(lowrank_gaussian_log_prob(t.view(d.data(), A, B), Wp, vp)) + sum(lowrank_gaussian_entropy(Wp, vp)) +
               sum(lowrank_gaussian_log_prob_and_entropy(t.view(d.data(), A, B), Wp, vp)));
  };
  pass();
  pass();
  const auto before = spindle_test::allocations();
  for (int k = 0; k < 5; ++k) pass();
  CHECK(spindle_test::allocations() == before);
}

}  // namespace test_autodiff
