// Exploration noise: sample + log_prob (the acting path: explore() on a tape with gradients
// off) next to a hand-written Eigen floor doing the same math, in one binary.
//   diag:    u = W z + b + σ ⊙ ξ (fresh normals),   log N(u; μ, σ²)
//   gsde:    u = W z + b + E_iᵀ z (per-env matrix), log N(u; μ, z²·S² + ε)
//   lattice: u = W(z + α P_x,iᵀ z) + b + P_a,iᵀ z,  full-covariance log N(u; μ, Σ(z)): per sample a
//            rank-L update, Cholesky and triangular solve (the unavoidable work)
// Args: latent L, actions A, batch B. Single thread, float.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>

#include <spindle/noise.hpp>

using namespace spindle;
using S = float;
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

namespace {

constexpr S half_log_two_pi = S(0.91893853320467274178);

void args(benchmark::internal::Benchmark* b) {
  for (long L : {64, 256})
    for (long A : {8, 39, 80})
      for (long B : {1, 256}) b->Args({L, A, B});
  b->ArgNames({"L", "A", "B"});
}

struct Setup {
  Eigen::Index L, A, B;
  Mat Z;
  explicit Setup(const benchmark::State& s) : L(s.range(0)), A(s.range(1)), B(s.range(2)) {
    Rng rng(1);
    Z.resize(L, B);
    rng.fill_normal(Z);
    Z *= S(0.5);
  }
};

// ---------------------------------------------------------------- spindle: explore() of a head
template <class Head>
void explore_spindle(benchmark::State& state) {
  Setup s(state);
  Rng rng(2);
  nn::Parameters<S> p;
  Head head(s.L, s.A, p, rng);
  head.reset_noise(p, s.B, rng);  // one exploration state per column
  autodiff::Tape<S> t;
  t.set_grad_enabled(false);
  for (auto _ : state) {
    t.clear();
    const auto out = head.explore(p, t.view(s.Z.data(), s.L, s.B), rng);
    benchmark::DoNotOptimize(out.log_prob.value().data());
  }
}

// ---------------------------------------------------------------- diagonal Gaussian floor
void diag_floor(benchmark::State& state) {
  Setup s(state);
  Rng rng(2);
  Mat W = Mat::Random(s.A, s.L), U(s.A, s.B), Xi(s.A, s.B);
  Vec b = Vec::Random(s.A), log_std = Vec::Zero(s.A), logp(s.B), sigma(s.A);
  for (auto _ : state) {
    rng.fill_normal(Xi);
    U.noalias() = W * s.Z;
    U.colwise() += b;
    sigma = log_std.array().exp();
    U.array() += Xi.array().colwise() * sigma.array();
    const S norm = -log_std.sum() - S(s.A) * half_log_two_pi;
    logp = (S(-0.5) * Xi.array().square().colwise().sum()).transpose() + norm;
    benchmark::DoNotOptimize(logp.data());
  }
}

// ---------------------------------------------------------------- gSDE
void gsde_floor(benchmark::State& state) {
  Setup s(state);
  Rng rng(3);
  Mat W = Mat::Random(s.A, s.L), S2 = Mat::Constant(s.L, s.A, std::exp(S(-4))), E(s.L, s.A * s.B);
  rng.fill_normal(E);
  E *= std::exp(S(-2));
  Vec b = Vec::Random(s.A), logp(s.B);
  Mat mu(s.A, s.B), U(s.A, s.B), var(s.A, s.B), Z2(s.L, s.B);
  for (auto _ : state) {
    mu.noalias() = W * s.Z;
    mu.colwise() += b;
    for (Eigen::Index i = 0; i < s.B; ++i) U.col(i).noalias() = E.middleCols(i * s.A, s.A).transpose() * s.Z.col(i);
    Z2 = s.Z.array().square();  // a buffer: as a product operand Eigen would heap-allocate it
    var.noalias() = S2.transpose() * Z2;
    const auto sd = (var.array() + S(1e-6)).sqrt();
    logp = (S(-0.5) * (U.array() / sd).square() - sd.log()).colwise().sum().transpose().matrix();
    logp.array() -= S(s.A) * half_log_two_pi;
    U += mu;
    benchmark::DoNotOptimize(logp.data());
    benchmark::DoNotOptimize(U.data());
  }
}

// ---------------------------------------------------------------- Lattice
void lattice_floor(benchmark::State& state) {
  Setup s(state);
  const Eigen::Index L = s.L, A = s.A;
  Rng rng(4);
  const S alpha = 1;
  Mat W = Mat::Random(A, L), P(L, (L + A) * s.B);
  rng.fill_normal(P);
  const S std0 = std::exp(S(-0.5) * std::log(S(L)));
  P *= std0;
  Mat C2 = Mat::Constant(L, L, std0 * std0), D2 = Mat::Constant(L, A, std0 * std0);
  Vec b = Vec::Random(A), logp(s.B), xt(L), u(A), d(A), z2(L), vx(L), va(A);
  Mat Sigma(A, A), scaled(A, L);
  for (auto _ : state) {
    for (Eigen::Index i = 0; i < s.B; ++i) {
      const auto z = s.Z.col(i);
      const auto Pi = P.middleCols(i * (L + A), L + A);
      xt = z;
      xt.noalias() += alpha * (Pi.leftCols(L).transpose() * z);
      u.noalias() = W * xt;
      u += b;
      u.noalias() += Pi.rightCols(A).transpose() * z;
      d = u - b;
      d.noalias() -= W * z;  // u − μ
      z2 = z.array().square();
      vx.noalias() = C2.transpose() * z2;
      va.noalias() = D2.transpose() * z2;
      scaled.noalias() = W * (alpha * vx.array().sqrt()).matrix().asDiagonal();
      Sigma.triangularView<Eigen::Lower>().setZero();
      Sigma.selfadjointView<Eigen::Lower>().rankUpdate(scaled);
      Sigma.diagonal() += va;
      Eigen::LLT<Eigen::Ref<Mat>> llt(Sigma);
      Sigma.triangularView<Eigen::Lower>().solveInPlace(d);
      logp(i) = S(-0.5) * d.squaredNorm() - Sigma.diagonal().array().log().sum() - S(A) * half_log_two_pi;
    }
    benchmark::DoNotOptimize(logp.data());
  }
}

}  // namespace

// --iterations=N runs every case for exactly N iterations (one run each, no estimation): for
// instruction counts under callgrind, scripts/bench_instructions.py subtracts two such runs.
int main(int argc, char** argv) {
  long iterations = 0;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--iterations=", 13) == 0) {
      iterations = std::atol(argv[i] + 13);
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      --i;
    }
  const auto add = [&](const char* name, void (*fn)(benchmark::State&)) {
    auto* b = benchmark::RegisterBenchmark(name, fn)->Apply(args);
    if (iterations > 0) b->Iterations(iterations);
  };
  add("diag/spindle", explore_spindle<noise::DiagGaussian<S>>);
  add("diag/floor", diag_floor);
  add("gsde/spindle", explore_spindle<noise::Gsde<S>>);
  add("gsde/floor", gsde_floor);
  add("lattice/spindle", explore_spindle<noise::Lattice<S>>);
  add("lattice/floor", lattice_floor);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
