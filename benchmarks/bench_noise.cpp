// Exploration noise: sample + log_prob (the acting path: explore() on a tape with gradients
// off) next to a hand-written Eigen floor doing the same math, in one binary.
//   diag:    u = W z + b + σ ⊙ ξ (fresh normals),   log N(u; μ, σ²)
//   gsde:    u = W z + b + E_iᵀ z (per-env matrix), log N(u; μ, z²·S² + ε)
//   lattice: u = W(z + α P_x,iᵀ z) + b + P_a,iᵀ z,  full-covariance log N(u; μ, Σ(z)): every
//            sample's Σ (one GEMM from 4 samples on, else a rank-L update each), Cholesky and solve
//   lowrank_logp(_grad): the full-covariance log-density alone (training: forward, and forward +
//            backward), L × A × B in {64, 256} × {8, 39, 80} × {32, 256}, with GFLOP/s;
//   lattice_train/{variances,packed}: Lattice's training log-density from z and θ (forward +
//            backward), through the per-sample variances or through Σ's packed triangles;
//   lattice_ppo_loss/{two_nodes,one_node}: the same plus the entropy (PPO's loss needs both): as two
//            tape nodes, or as lowrank_gaussian_log_prob_and_entropy's one;
//   normals/fill_normal(_fast): bulk standard normals (one muscle-arm exploration matrix), values per second;
//   peak/sgemm_512: this core's practical peak, for the GFLOP/s columns.
// Args: latent L, actions A, batch B. Single thread, float.
#include <benchmark/benchmark.h>

#include <array>
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

// ---------------------------------------------------------------- Lattice's full-covariance log-density
// The arithmetic, in plain Eigen: per sample Σ_b = α² W diag(v_x,b) Wᵀ + diag(v_a,b). From 4
// samples on, every Σ_b's packed lower triangle is a column of Kᵀ V_x (K: L × A(A+1)/2, columns
// w_i ∘ w_j) — one GEMM at full speed instead of B small rank-L updates; then per sample a Cholesky
// and a solve. The backward: per sample Σ⁻¹ from the factor and G = ½(yyᵀ − Σ⁻¹), packed; then
// ∂V_x = K Gp and ∂W from V_x Gpᵀ (two more GEMMs).
struct LowRankFloor {
  Eigen::Index A, L, B, P;
  Mat Wt, K, Sp, chol, Y, inv, G, Gp, dVx, H, dWt, scaled;
  Vec logp, y;
  LowRankFloor(Eigen::Index a, Eigen::Index l, Eigen::Index b)
      : A(a), L(l), B(b), P(a * (a + 1) / 2), Wt(l, a), K(l, P), Sp(P, b), chol(a, a * b), Y(a, b), inv(a, a), G(a, a),
        Gp(P, b), dVx(l, b), H(l, P), dWt(l, a), scaled(a, l), logp(b), y(a) {}
  static Eigen::Index column(Eigen::Index A, Eigen::Index j) { return j * A - j * (j - 1) / 2; }
  void khatri_rao(const Mat& W) {
    Wt = W.transpose();
    for (Eigen::Index j = 0; j < A; ++j)
      for (Eigen::Index i = j; i < A; ++i) K.col(column(A, j) + i - j) = Wt.col(i).cwiseProduct(Wt.col(j));
  }
  // log p of d (A × B) under Σ_b from W, V = [v_a; v_x] ((A + L) × B): the factors kept in `chol`, Σ⁻¹d in Y.
  void forward(const Mat& W, const Mat& V, const Mat& D, S alpha) {
    if (B >= 4) {
      khatri_rao(W);
      Sp.noalias() = K.transpose() * V.bottomRows(L);
    }
    for (Eigen::Index b = 0; b < B; ++b) {
      auto C = chol.middleCols(b * A, A);
      if (B >= 4) {
        for (Eigen::Index j = 0; j < A; ++j) C.col(j).tail(A - j) = alpha * alpha * Sp.col(b).segment(column(A, j), A - j);
      } else {
        scaled.noalias() = W * (alpha * V.col(b).tail(L).array().sqrt()).matrix().asDiagonal();
        C.triangularView<Eigen::Lower>().setZero();
        C.selfadjointView<Eigen::Lower>().rankUpdate(scaled);
      }
      C.diagonal() += V.col(b).head(A);
      if (A <= 64)
        Eigen::internal::llt_inplace<S, Eigen::Lower>::unblocked(C);  // small factors: the column kernel
      else
        Eigen::LLT<Eigen::Ref<Mat>> llt(C);
      y = D.col(b);
      C.triangularView<Eigen::Lower>().solveInPlace(y);
      logp(b) = S(-0.5) * y.squaredNorm() - C.diagonal().array().log().sum() - S(A) * half_log_two_pi;
      C.triangularView<Eigen::Lower>().transpose().solveInPlace(y);
      Y.col(b) = y;
    }
  }
  // ∂Σ log p_b (unit weights) w.r.t. v_x (in dVx) and W (in dWt, transposed); needs forward() first (B ≥ 4).
  void backward(const Mat& V, S alpha) {
    for (Eigen::Index b = 0; b < B; ++b) {
      inv.setIdentity();
      chol.middleCols(b * A, A).triangularView<Eigen::Lower>().solveInPlace(inv);
      G.noalias() = inv.transpose() * inv;
      G.noalias() = S(0.5) * (Y.col(b) * Y.col(b).transpose() - G);
      for (Eigen::Index j = 0; j < A; ++j) {
        auto c = Gp.col(b).segment(column(A, j), A - j);
        c = (2 * alpha * alpha) * G.col(j).tail(A - j);
        c(0) *= S(0.5);
      }
    }
    dVx.noalias() = K * Gp;
    H.noalias() = V.bottomRows(L) * Gp.transpose();
    dWt.setZero();
    for (Eigen::Index j = 0; j < A; ++j)
      for (Eigen::Index i = j; i < A; ++i) {
        dWt.col(i) += H.col(column(A, j) + i - j).cwiseProduct(Wt.col(j));
        dWt.col(j) += H.col(column(A, j) + i - j).cwiseProduct(Wt.col(i));
      }
  }
};

void logp_args(benchmark::internal::Benchmark* b) {
  for (long L : {64, 256})
    for (long A : {8, 39, 80})
      for (long B : {32, 256}) b->Args({L, A, B});
  b->ArgNames({"L", "A", "B"});
}

struct LogpSetup {
  Eigen::Index L, A, B;
  Mat W, V, D;
  explicit LogpSetup(const benchmark::State& s) : L(s.range(0)), A(s.range(1)), B(s.range(2)) {
    Rng rng(5);
    W.resize(A, L);
    V.resize(A + L, B);
    D.resize(A, B);
    rng.fill_normal(W);
    W *= S(0.2);
    rng.fill_normal(V);
    V = V.array().abs() * S(0.05) + S(0.01);
    rng.fill_normal(D);
    D *= S(0.3);
  }
  // The arithmetic of the forward (Kᵀ V_x GEMM, Cholesky, two solves) and of the backward
  // (per-sample inverse from the factor and Σ⁻¹ product, two GEMMs), for the GFLOP/s counters.
  double forward_flops() const {
    const double a = double(A), l = double(L), b = double(B), p = a * (a + 1) / 2;
    return b * (2 * p * l + a * a * a / 3 + 2 * a * a);
  }
  double backward_flops() const {
    const double a = double(A), l = double(L), b = double(B), p = a * (a + 1) / 2;
    return b * (4 * p * l + 2 * a * a * a) + 4 * p * l;
  }
};

template <bool with_backward>
void lowrank_spindle(benchmark::State& state) {
  LogpSetup s(state);
  Mat gW = Mat::Zero(s.A, s.L), gV = Mat::Zero(s.A + s.L, s.B);
  autodiff::Tape<S> t;
  for (auto _ : state) {
    t.clear();
    const auto W = t.parameter(s.W.data(), gW.data(), s.A, s.L);
    const auto V = t.parameter(s.V.data(), gV.data(), s.A + s.L, s.B);
    const auto logp = autodiff::lowrank_gaussian_log_prob(t.view(s.D.data(), s.A, s.B), W, V);
    if constexpr (with_backward) t.backward(autodiff::sum(logp));
    benchmark::DoNotOptimize(logp.value().data());
    benchmark::DoNotOptimize(gW.data());
  }
  const double flops = s.forward_flops() + (with_backward ? s.backward_flops() : 0.0);
  state.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

template <bool with_backward>
void lowrank_floor(benchmark::State& state) {
  LogpSetup s(state);
  LowRankFloor f(s.A, s.L, s.B);
  for (auto _ : state) {
    f.forward(s.W, s.V, s.D, S(1));
    if constexpr (with_backward) f.backward(s.V, S(1));
    benchmark::DoNotOptimize(f.logp.data());
    benchmark::DoNotOptimize(f.dWt.data());
  }
  const double flops = s.forward_flops() + (with_backward ? s.backward_flops() : 0.0);
  state.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// This core's practical peak: Eigen's single-precision GEMM at 512³ (one thread).
void sgemm_peak(benchmark::State& state) {
  const Eigen::Index n = 512;
  Mat a = Mat::Random(n, n), b = Mat::Random(n, n), c(n, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOPs"] = benchmark::Counter(2.0 * double(n * n * n) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Lattice's training log-density with full_std, from the latent z and θ's squared stds S2 = [C² | D²]:
// through the per-sample variances v = S2ᵀz² (lowrank_gaussian_log_prob) or through Σ's packed
// triangles formed from z² (lattice_packed_covariance + packed_gaussian_log_prob); forward + backward.
enum class TrainDensity { variances, packed, two_nodes, one_node };
template <TrainDensity mode>
void lattice_train(benchmark::State& state) {
  const Eigen::Index L = state.range(0), A = state.range(1), B = state.range(2);
  Rng rng(6);
  Mat W(A, L), S2(L, L + A), Z(L, B), D(A, B);
  rng.fill_normal(W);
  W *= S(0.2);
  rng.fill_normal(S2);
  S2 = S2.array().abs() * S(0.05) + S(0.01);
  rng.fill_normal(Z);
  rng.fill_normal(D);
  D *= S(0.3);
  Mat gW = Mat::Zero(A, L), gS = Mat::Zero(L, L + A);
  autodiff::Tape<S> t;
  for (auto _ : state) {
    t.clear();
    const auto Wp = t.parameter(W.data(), gW.data(), A, L);
    const auto Sp = t.parameter(S2.data(), gS.data(), L, L + A);
    const auto z2 = autodiff::square(t.view(Z.data(), L, B));
    autodiff::Var<S> loss;
    if constexpr (mode == TrainDensity::packed) {
      loss = autodiff::sum(
          autodiff::packed_gaussian_log_prob(t.view(D.data(), A, B), autodiff::lattice_packed_covariance(Wp, Sp, z2, S(1))));
    } else {
      const auto v = autodiff::matmul_tn(Sp, z2);  // [C²ᵀz²; D²ᵀz²]
      const auto va = autodiff::concat_rows(autodiff::slice_rows(v, L, A), autodiff::slice_rows(v, 0, L));
      const auto d = t.view(D.data(), A, B);
      const S ent_coef = S(3.62109e-6);  // the Lattice authors' MyoSuite setting
      if constexpr (mode == TrainDensity::variances) {
        loss = autodiff::sum(autodiff::lowrank_gaussian_log_prob(d, Wp, va));
      } else if constexpr (mode == TrainDensity::two_nodes) {
        loss = autodiff::sum(autodiff::lowrank_gaussian_log_prob(d, Wp, va)) +
               autodiff::sum(autodiff::lowrank_gaussian_entropy(Wp, va)) * ent_coef;
      } else {
        const auto both = autodiff::lowrank_gaussian_log_prob_and_entropy(d, Wp, va);
        loss = autodiff::sum(autodiff::slice_rows(both, 0, 1)) + autodiff::sum(autodiff::slice_rows(both, 1, 1)) * ent_coef;
      }
    }
    t.backward(loss);
    benchmark::DoNotOptimize(gS.data());
  }
}

void lattice_train_args(benchmark::internal::Benchmark* b) {
  // Pendulum SAC, the muscle arm's PPO, MyoElbow in the Lattice settings, MyoHand in them and at batch 256
  for (const auto& c : {std::array<long, 3>{64, 1, 256}, {128, 6, 256}, {256, 6, 32}, {256, 39, 32}, {256, 39, 256}})
    b->Args({c[0], c[1], c[2]});
  b->ArgNames({"L", "A", "B"});
}

// Standard normals in bulk: one environment's Lattice matrices for the muscle arm (128 × 134).
template <bool fast>
void normals(benchmark::State& state) {
  Mat m(128, 134);
  Rng rng(7);
  for (auto _ : state) {
    if constexpr (fast)
      rng.fill_normal_fast(m);
    else
      rng.fill_normal(m);
    benchmark::DoNotOptimize(m.data());
  }
  state.counters["values"] = benchmark::Counter(double(m.size()), benchmark::Counter::kIsIterationInvariantRate);
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
  Vec b = Vec::Random(A), xt(L), u(A), z2(L);
  Mat D(A, s.B), V(A + L, s.B);
  LowRankFloor density(A, L, s.B);
  for (auto _ : state) {
    for (Eigen::Index i = 0; i < s.B; ++i) {
      const auto z = s.Z.col(i);
      const auto Pi = P.middleCols(i * (L + A), L + A);
      xt = z;
      xt.noalias() += alpha * (Pi.leftCols(L).transpose() * z);
      u.noalias() = W * xt;
      u += b;
      u.noalias() += Pi.rightCols(A).transpose() * z;
      D.col(i) = u - b;
      D.col(i).noalias() -= W * z;  // u − μ
      z2 = z.array().square();
      V.col(i).head(A).noalias() = D2.transpose() * z2;
      V.col(i).tail(L).noalias() = C2.transpose() * z2;
    }
    density.forward(W, V, D, alpha);
    benchmark::DoNotOptimize(density.logp.data());
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
  const auto add_logp = [&](const char* name, void (*fn)(benchmark::State&)) {
    auto* b = benchmark::RegisterBenchmark(name, fn)->Apply(logp_args);
    if (iterations > 0) b->Iterations(iterations);
  };
  add_logp("lowrank_logp/spindle", lowrank_spindle<false>);
  add_logp("lowrank_logp/floor", lowrank_floor<false>);
  add_logp("lowrank_logp_grad/spindle", lowrank_spindle<true>);
  add_logp("lowrank_logp_grad/floor", lowrank_floor<true>);
  const auto add_with = [&](const char* name, void (*fn)(benchmark::State&), void (*apply)(benchmark::internal::Benchmark*)) {
    auto* b = benchmark::RegisterBenchmark(name, fn);
    if (apply) b->Apply(apply);
    if (iterations > 0) b->Iterations(iterations);
  };
  add_with("lattice_train/variances", lattice_train<TrainDensity::variances>, lattice_train_args);
  add_with("lattice_train/packed", lattice_train<TrainDensity::packed>, lattice_train_args);
  add_with("lattice_ppo_loss/two_nodes", lattice_train<TrainDensity::two_nodes>, lattice_train_args);
  add_with("lattice_ppo_loss/one_node", lattice_train<TrainDensity::one_node>, lattice_train_args);
  add_with("normals/fill_normal", normals<false>, nullptr);
  add_with("normals/fill_normal_fast", normals<true>, nullptr);
  auto* peak = benchmark::RegisterBenchmark("peak/sgemm_512", sgemm_peak);
  if (iterations > 0) peak->Iterations(iterations);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
