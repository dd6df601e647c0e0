// Exploration noise: gradients of every head, sample statistics against the analytic
// (co)variances, the resampling schedule, colored-noise spectra and bad input.
#include <doctest/doctest.h>

#include <cstring>

#include <spindle/noise.hpp>

#include "alloc_counter.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_noise {

using namespace spindle;
using Mat = Eigen::MatrixXd;
using autodiff::Tape;
using autodiff::Var;

namespace {

constexpr Eigen::Index L = 5, A = 3, B = 4;

Mat random_matrix(Eigen::Index r, Eigen::Index c, Rng& rng, double scale = 1.0) {
  Mat m(r, c);
  rng.fill_normal(m);
  return m * scale;
}

// Finite-difference check of d loss / d (every parameter, the latent).
// `loss(head, params, tape, z)` builds a 1×1 value; it is evaluated with a fresh copy of `rng_state`.
template <class Head, class Loss>
double worst_gradient_error(Head& head, nn::Parameters<double>& p, const Mat& Z, Loss loss, bool check_latent) {
  const Rng rng0(99);
  auto evaluate = [&](const Mat& z_value) {
    Tape<double> t;
    t.set_grad_enabled(false);
    Rng rng = rng0;
    return loss(head, p, t, t.constant(z_value), rng).value()(0, 0);
  };
  Tape<double> t;
  p.zero_grad();
  Rng rng = rng0;
  const Var<double> z = t.variable(Z);
  t.backward(loss(head, p, t, z, rng));
  const Eigen::VectorXd analytic = p.grads();
  const Mat analytic_z = z.grad();
  double worst = 0;
  auto consider = [&](double a, double up, double down, double h) {
    const double numeric = (up - down) / (2 * h);
    worst = std::max(worst, std::abs(a - numeric) / std::max(1.0, std::abs(numeric)));
  };
  for (Eigen::Index i = 0; i < p.size(); ++i) {
    const double x0 = p.values()(i), h = 1e-6 * std::max(1.0, std::abs(x0));
    p.values()(i) = x0 + h;
    const double up = evaluate(Z);
    p.values()(i) = x0 - h;
    const double down = evaluate(Z);
    p.values()(i) = x0;
    consider(analytic(i), up, down, h);
  }
  if (check_latent) {
    Mat z2 = Z;
    for (Eigen::Index i = 0; i < Z.size(); ++i) {
      const double x0 = Z(i), h = 1e-6 * std::max(1.0, std::abs(x0));
      z2(i) = x0 + h;
      const double up = evaluate(z2);
      z2(i) = x0 - h;
      const double down = evaluate(z2);
      z2(i) = x0;
      consider(analytic_z(i), up, down, h);
    }
  }
  return worst;
}

// log_prob of given actions, entropy (when defined) and a reparameterised sample with its log-prob.
template <class Head>
void check_all_gradients(Head& head, nn::Parameters<double>& p, bool check_latent) {
  Rng rng(3);
  const Mat Z = random_matrix(L, B, rng);
  Mat actions = random_matrix(A, B, rng, 0.5);
  if (head.squashed()) actions = actions.array().tanh();
  const auto log_prob = [&](Head& h, nn::Parameters<double>& pp, Tape<double>& t, Var<double> z, Rng&) {
    return autodiff::sum(h.log_prob(pp, z, t.constant(actions)));
  };
  CHECK(worst_gradient_error(head, p, Z, log_prob, check_latent) < 1e-6);
  const auto entropy = [&](Head& h, nn::Parameters<double>& pp, Tape<double>&, Var<double> z, Rng&) {
    return autodiff::sum(*h.entropy(pp, z));
  };
  {
    Tape<double> t;
    if (head.entropy(p, t.constant(Z)).has_value()) CHECK(worst_gradient_error(head, p, Z, entropy, check_latent) < 1e-6);
  }
  const auto sample = [&](Head& h, nn::Parameters<double>& pp, Tape<double>&, Var<double> z, Rng& r) {
    const auto s = h.rsample(pp, z, r);
    return autodiff::sum(s.action) + autodiff::sum(s.log_prob) * 0.1;
  };
  CHECK(worst_gradient_error(head, p, Z, sample, check_latent) < 1e-6);
}

// Relative Frobenius error of the empirical covariance of `n` draws against `want`.
template <class Draw>
double empirical_covariance_error(int n, Draw draw, const Mat& want) {
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(want.rows());
  Mat outer = Mat::Zero(want.rows(), want.cols());
  for (int i = 0; i < n; ++i) {
    const Eigen::VectorXd u = draw();
    sum += u;
    outer.noalias() += u * u.transpose();
  }
  const Eigen::VectorXd m = sum / n;
  const Mat cov = (outer - n * m * m.transpose()) / (n - 1);
  return (cov - want).norm() / want.norm();
}

// The same for exploration samples at a fixed latent (batch 1), resampling the noise each draw if asked.
template <class Head>
double covariance_error(Head& head, nn::Parameters<double>& p, const Mat& Z, const Mat& want, int n, bool resample) {
  Rng rng(11);
  Tape<double> t;
  t.set_grad_enabled(false);
  return empirical_covariance_error(n, [&]() -> Eigen::VectorXd {
    t.clear();
    if (resample) head.reset_noise(p, 1, rng);
    return head.explore(p, t.constant(Z), rng).action.value().col(0);
  }, want);
}

}  // namespace

TEST_CASE("noise gradients: diagonal and squashed Gaussian") {
  Rng rng(1);
  {
    nn::Parameters<double> p;
    noise::DiagGaussian<double> h(L, A, p, rng, {.log_std_init = -0.3});
    check_all_gradients(h, p, true);
  }
  {
    nn::Parameters<double> p;
    noise::SquashedGaussian<double> h(L, A, p, rng);
    check_all_gradients(h, p, true);
  }
}

TEST_CASE("noise gradients: gSDE with learned features, each option") {
  for (int variant = 0; variant < 4; ++variant) {
    CAPTURE(variant);
    Rng rng(2);
    nn::Parameters<double> p;
    noise::Gsde<double>::Config c;
    c.learn_features = true;
    c.full_std = variant != 1;
    c.use_expln = variant == 2;
    c.squash_output = variant == 3;
    c.log_std_init = variant == 2 ? 0.3 : -0.5;  // expln's positive branch
    c.clip_mean = variant == 3 ? 2.0 : 0.0;
    noise::Gsde<double> h(L, A, p, rng, c);
    p.value(1).setRandom();  // varied θ
    check_all_gradients(h, p, true);
  }
}

TEST_CASE("noise gradients: Lattice SDE with learned features, each option") {
  for (int variant = 0; variant < 4; ++variant) {
    CAPTURE(variant);
    Rng rng(4);
    nn::Parameters<double> p;
    noise::Lattice<double>::Config c;
    c.learn_features = true;
    c.full_std = variant != 1;
    c.use_expln = variant == 2;
    c.squash_output = variant == 3;
    c.alpha = variant == 0 ? 1.0 : 0.7;
    c.std_reg = variant == 1 ? 0.1 : 0.0;
    c.std_max = 10;
    noise::Lattice<double> h(L, A, p, rng, c);
    Rng r(7);
    for (Eigen::Index i = 0; i < p.value(2).size(); ++i) p.value(2)(i) = r.uniform(-1.5, 1.5);  // inside the clip
    check_all_gradients(h, p, true);
  }
}

TEST_CASE("Lattice: log-prob and entropy of one latent on one tape share the variances, with separate tapes' values and gradients") {
  // A 3: two nodes sharing the variances; A 19 (past the small factors, batch-parallel): one node for both
  struct Size {
    Eigen::Index L, A, B;
  };
  for (const Size size : {Size{L, A, B}, Size{8, autodiff::detail::small_factor_max + 3, 6}}) {
    const Eigen::Index L = size.L, A = size.A, B = size.B;  // (not a structured binding: CAPTURE's lambda reads A)
    CAPTURE(A);
    const bool joint = autodiff::lowrank_prefers_joint(A, B);
    CHECK(joint == (A > autodiff::detail::small_factor_max));
    Rng rng(5);
    nn::Parameters<double> p;
    noise::Lattice<double> h(L, A, p, rng, {.alpha = 0.8, .std_max = 10, .std_reg = 0.05, .log_std_init = -0.2});
    for (Eigen::Index i = 0; i < p.value(2).size(); ++i) p.value(2)(i) = rng.uniform(-1.5, 1.5);
    const Mat Z = random_matrix(L, B, rng), actions = random_matrix(A, B, rng, 0.5);
    // one tape: log-prob, then entropy (the second reuses the first's variances node)
    Tape<double> shared;
    p.zero_grad();
    const Var<double> z = shared.constant(Z);
    const Var<double> logp = h.log_prob(p, z, shared.constant(actions));
    const std::size_t nodes_after_logp = shared.size();
    const Var<double> entropy = *h.entropy(p, z);
    const std::size_t entropy_nodes = shared.size() - nodes_after_logp;
    if (joint) CHECK(entropy_nodes == 1);  // a slice of the log-prob's node
    shared.backward(autodiff::sum(logp) + autodiff::sum(entropy) * 0.3);
    const Eigen::VectorXd grads_shared = p.grads();
    // separate tapes
    Tape<double> a, b;
    p.zero_grad();
    const Var<double> logp_a = h.log_prob(p, a.constant(Z), a.constant(actions));
    a.backward(autodiff::sum(logp_a));
    const std::size_t before_entropy = b.size();
    const Var<double> entropy_b = *h.entropy(p, b.constant(Z));
    CHECK(b.size() - before_entropy - 1 > entropy_nodes);  // on its own the entropy computes the variances
    b.backward(autodiff::sum(entropy_b) * 0.3);
    CHECK((logp.value() - logp_a.value()).cwiseAbs().maxCoeff() == 0.0);
    CHECK((entropy.value() - entropy_b.value()).cwiseAbs().maxCoeff() == 0.0);
    CHECK((grads_shared - p.grads()).cwiseAbs().maxCoeff() < 1e-12 * (1 + grads_shared.cwiseAbs().maxCoeff()));
    // after clear() (and on a new tape at any address) nothing stale is reused
    shared.clear();
    const Var<double> other = shared.constant(Z * 0.5);
    const Var<double> entropy_half = *h.entropy(p, other);
    Tape<double> fresh;
    CHECK((entropy_half.value() - h.entropy(p, fresh.constant(Z * 0.5))->value()).cwiseAbs().maxCoeff() == 0.0);
    CHECK((entropy_half.value() - entropy.value()).cwiseAbs().maxCoeff() > 1e-3);
  }
}

TEST_CASE("noise gradients: Lattice without SDE, parameter and state-dependent, plain and squashed") {
  for (int variant = 0; variant < 3; ++variant) {
    CAPTURE(variant);
    Rng rng(5);
    nn::Parameters<double> p;
    noise::LatticePlain<double>::Config c;
    c.state_dependent = variant > 0;
    c.squash_output = variant == 2;
    c.log_std_init = -0.5;
    noise::LatticePlain<double> h(L, A, p, rng, c);
    if (!c.state_dependent) p.value(2).setRandom();
    check_all_gradients(h, p, true);
  }
}

TEST_CASE("noise statistics: empirical covariance converges to the analytic one at 200k samples") {
  Rng rng(21);
  const Mat Z = random_matrix(L, 1, rng);
  SUBCASE("Lattice SDE (resampled matrices)") {
    nn::Parameters<double> p;
    noise::Lattice<double> h(L, A, p, rng, {.alpha = 0.8, .std_max = 10, .std_reg = 0.05, .log_std_init = -0.2});
    Tape<double> t;
    const Mat want = h.covariance(p, t.constant(Z), 0);
    const double err = covariance_error(h, p, Z, want, 200000, true);
    MESSAGE("Lattice SDE relative Frobenius error " << err);
    CHECK(err < 0.03);
  }
  SUBCASE("Lattice plain, Cholesky sampling and the training reparameterisation") {
    nn::Parameters<double> p;
    noise::LatticePlain<double> h(L, A, p, rng, {.log_std_init = -0.5});
    p.value(2).setRandom();
    Tape<double> t;
    const Mat want = h.covariance(p, t.constant(Z), 0);
    const double err = covariance_error(h, p, Z, want, 200000, false);
    CHECK(err < 0.03);
    // rsample: u = μ + W(σ_x ⊙ ξ_x) + σ_a ⊙ ξ_a has the same covariance
    Rng r(12);
    const double rsample_err = empirical_covariance_error(200000, [&]() -> Eigen::VectorXd {
      t.clear();
      return h.rsample(p, t.constant(Z), r).action.value().col(0);
    }, want);
    CHECK(rsample_err < 0.03);
  }
  SUBCASE("gSDE: independent actions with variance z² · S²") {
    nn::Parameters<double> p;
    noise::Gsde<double> h(L, A, p, rng, {.log_std_init = -0.7});
    Tape<double> t;
    const Eigen::VectorXd var = h.variance(p, t.constant(Z)).value().col(0);
    const double err = covariance_error(h, p, Z, Mat(var.asDiagonal()), 200000, true);
    CHECK(err < 0.03);
  }
  SUBCASE("diagonal Gaussian") {
    nn::Parameters<double> p;
    noise::DiagGaussian<double> h(L, A, p, rng, {.log_std_init = 0.4});
    const Mat want = Mat(Eigen::VectorXd::Constant(A, std::exp(0.8)).asDiagonal());
    CHECK(covariance_error(h, p, Z, want, 200000, false) < 0.03);
  }
}

TEST_CASE("noise schedule: exploration is constant within a sample_freq block and changes between blocks") {
  Rng rng(31);
  nn::Parameters<double> p;
  noise::Lattice<double> h(L, A, p, rng);
  const Mat Z = random_matrix(L, 2, rng);  // two environments, fixed latents
  noise::ResampleSchedule schedule(4);
  Tape<double> t;
  t.set_grad_enabled(false);
  std::vector<Mat> actions;
  if (schedule.start_rollout()) h.reset_noise(p, 2, rng);
  for (int step = 0; step < 12; ++step) {
    if (schedule.before_step()) h.reset_noise(p, 2, rng);
    t.clear();
    actions.push_back(h.explore(p, t.constant(Z), rng).action.value());
  }
  for (int step = 0; step < 12; ++step) {
    CAPTURE(step);
    if (step % 4 != 0) CHECK(actions[step] == actions[step - 1]);
    else if (step > 0) CHECK((actions[step] - actions[step - 1]).cwiseAbs().minCoeff() > 0);
  }
  CHECK((actions[0].col(0) - actions[0].col(1)).norm() > 0);  // each environment its own matrices
  noise::ResampleSchedule once(-1);
  once.start_rollout();
  for (int i = 0; i < 100; ++i) CHECK_FALSE(once.before_step());
}

TEST_CASE("noise sources: pink noise has unit variance and a 1/f power spectrum") {
  noise::PinkNoise<double> pink({.exponent = 1.0, .horizon = 1024});
  Rng rng(41);
  const int T = 1024, n = 400;
  Eigen::VectorXd x(T), power = Eigen::VectorXd::Zero(T / 2 + 1);
  double var = 0;
  Eigen::FFT<double> fft;
  std::vector<std::complex<double>> spec;
  std::vector<double> seq(T);
  for (int k = 0; k < n; ++k) {
    pink.draw_sequence(x, rng);
    var += x.squaredNorm() / T;
    for (int i = 0; i < T; ++i) seq[static_cast<std::size_t>(i)] = x(i);
    fft.fwd(spec, seq);
    for (int f = 0; f <= T / 2; ++f) power(f) += std::norm(spec[static_cast<std::size_t>(f)]);
  }
  CHECK(var / n == doctest::Approx(1.0).epsilon(0.05));
  // least-squares slope of log power against log frequency, over f = 1 .. T/2
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const int m = T / 2;
  for (int f = 1; f <= m; ++f) {
    const double lx = std::log(double(f)), ly = std::log(power(f));
    sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
  }
  const double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
  MESSAGE("pink noise spectral slope " << slope);
  CHECK(slope == doctest::Approx(-1.0).epsilon(0.1));
  // white noise (β = 0) for contrast
  noise::PinkNoise<double> white({.exponent = 0.0, .horizon = 1024});
  power.setZero();
  for (int k = 0; k < n; ++k) {
    white.draw_sequence(x, rng);
    for (int i = 0; i < T; ++i) seq[static_cast<std::size_t>(i)] = x(i);
    fft.fwd(spec, seq);
    for (int f = 0; f <= T / 2; ++f) power(f) += std::norm(spec[static_cast<std::size_t>(f)]);
  }
  sy = sxy = 0;
  for (int f = 1; f <= m; ++f) {
    const double lx = std::log(double(f)), ly = std::log(power(f));
    sy += ly, sxy += lx * ly;
  }
  CHECK(std::abs((m * sxy - sx * sy) / (m * sxx - sx * sx)) < 0.1);
}

TEST_CASE("noise sources: Ornstein-Uhlenbeck autocorrelation is exp(-theta lag dt)") {
  noise::OrnsteinUhlenbeckNoise<double> ou({.theta = 1.0, .dt = 0.05});
  Rng rng(51);
  const int streams = 4, steps = 100000;
  ou.resize(1, streams, rng);
  Mat xs(steps, streams), draw(1, streams);
  for (int t = 0; t < steps; ++t) {
    ou.next(draw, rng);
    xs.row(t) = draw.row(0);
  }
  CHECK(xs.array().square().mean() == doctest::Approx(1.0).epsilon(0.05));
  for (int lag : {1, 5, 10, 20, 40}) {
    CAPTURE(lag);
    const double c = (xs.topRows(steps - lag).array() * xs.bottomRows(steps - lag).array()).mean();
    CHECK(c == doctest::Approx(ou.correlation(lag)).epsilon(0.05).scale(1.0));
  }
}

TEST_CASE("noise sources: a Gaussian head explores with pink noise, per environment") {
  Rng rng(61);
  nn::Parameters<double> p;
  noise::DiagGaussian<double, noise::PinkNoise<double>> h(L, A, p, rng, {.source = {.horizon = 256}});
  Tape<double> t;
  t.set_grad_enabled(false);
  const Mat Z = Mat::Zero(L, 3);
  h.reset_noise(p, 3, rng);
  Mat prev;
  double lag1 = 0;
  int n = 0;
  for (int s = 0; s < 2000; ++s) {
    t.clear();
    const Mat a = h.explore(p, t.constant(Z), rng).action.value() - h.mean(p, t.constant(Z)).value();
    if (s > 0) {
      lag1 += (a.array() * prev.array()).sum();
      n += static_cast<int>(a.size());
    }
    prev = a;
  }
  MESSAGE("pink lag-1 correlation " << lag1 / n);
  CHECK(lag1 / n > 0.3);  // white noise would give ≈ 0
}

TEST_CASE("noise bad input: a singular Lattice covariance throws instead of a NaN log-prob") {
  Rng rng(71);
  nn::Parameters<double> p;
  noise::Lattice<double> h(L, A, p, rng, {.alpha = 0.0, .std_reg = 0.0});
  Tape<double> t;
  const auto zero = t.constant(Mat::Zero(L, 2));
  try {
    (void)h.log_prob(p, zero, t.constant(Mat::Zero(A, 2)));
    FAIL("expected not_positive_definite_error");
  } catch (const not_positive_definite_error& e) {
    CHECK(std::string(e.what()).find("std_reg") != std::string::npos);
  }
  // with std_reg > 0 the same input is fine
  nn::Parameters<double> p2;
  noise::Lattice<double> h2(L, A, p2, rng, {.alpha = 0.0, .std_reg = 0.1});
  const auto lp = h2.log_prob(p2, zero, t.constant(Mat::Zero(A, 2)));
  CHECK(lp.value().allFinite());
}

TEST_CASE("noise bad input: NaN latents are reported by explore, with the coefficient") {
  Rng rng(81);
  nn::Parameters<double> p;
  noise::Gsde<double> h(L, A, p, rng);
  Tape<double> t;
  Mat Z = Mat::Zero(L, 2);
  Z(2, 1) = std::nan("");
  CHECK_THROWS_AS(h.explore(p, t.constant(Z), rng), non_finite_error);
  nn::Parameters<double> p2;
  noise::Lattice<double> h2(L, A, p2, rng);
  CHECK_THROWS_AS(h2.log_prob(p2, t.constant(Z), t.constant(Mat::Zero(A, 2))), non_finite_error);
  CHECK_THROWS_AS(h2.log_prob(p2, t.constant(Mat::Zero(L + 1, 2)), t.constant(Mat::Zero(A, 2))), shape_error);
}

// explore() on a tape without gradients (acting) skips nodes the differentiable path records;
// its actions and log-probs must be the same bits (PPO's first ratio is then exactly 1, and
// a run does not depend on whether acting records gradients), and log_prob of its action agrees.
template <class Head>
void check_acting_path(typename Head::Config config) {
  using S = typename Head::scalar;
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  for (const auto& dims : {std::pair<Eigen::Index, Eigen::Index>{L, A}, {64, 21}})
  for (const Eigen::Index n_envs : {1, 5, 32}) {
    const Eigen::Index latent = dims.first, actions = dims.second;  // not bindings: CAPTURE takes them in a lambda
    Rng init_a(101), init_b(101), rng_a(7), rng_b(7), data(8);
    nn::Parameters<S> pa, pb;
    Head a(latent, actions, pa, init_a, config), b(latent, actions, pb, init_b, config);
    const M Z = random_matrix(latent, n_envs, data).template cast<S>();
    a.reset_noise(pa, n_envs, rng_a);
    b.reset_noise(pb, n_envs, rng_b);
    for (int step = 0; step < 4; ++step) {
      if (step == 2) {  // an optimizer step moved every parameter (then a new rollout): cached stds follow
        for (int i = 0; i < pa.count(); ++i) {
          pa.value(i).array() += S(0.03);
          pb.value(i).array() += S(0.03);
        }
        a.reset_noise(pa, n_envs, rng_a);
        b.reset_noise(pb, n_envs, rng_b);
      }
      Tape<S> with_grad, acting, check;
      acting.set_grad_enabled(false);
      const auto ref = a.explore(pa, with_grad.constant(Z), rng_a);
      const auto fast = b.explore(pb, acting.constant(Z), rng_b);
      const M ref_action = ref.action.value(), fast_action = fast.action.value();
      const M ref_lp = ref.log_prob.value(), fast_lp = fast.log_prob.value();
      CAPTURE(latent);
      CAPTURE(n_envs);
      CHECK(std::memcmp(ref_action.data(), fast_action.data(), sizeof(S) * std::size_t(ref_action.size())) == 0);
      CHECK(std::memcmp(ref_lp.data(), fast_lp.data(), sizeof(S) * std::size_t(ref_lp.size())) == 0);
      const auto lp = b.log_prob(pb, check.constant(Z), check.constant(fast_action));
      CHECK((lp.value() - fast.log_prob.value()).cwiseAbs().maxCoeff() < (sizeof(S) == 4 ? 1e-3 : 1e-6));
    }
    M bad = Z;
    bad(3, n_envs - 1) = std::numeric_limits<S>::infinity();
    Tape<S> acting;
    acting.set_grad_enabled(false);
    CHECK_THROWS_AS(b.explore(pb, acting.constant(bad), rng_b), non_finite_error);
  }
}

TEST_CASE("Lattice past the small factors: explore without its log-prob takes the same action, and log_prob gives explore's log-prob") {
  const Eigen::Index L = 64, A = autodiff::detail::small_factor_max + 3, n_envs = 4;  // L: not the packed route
  Rng init(9);
  nn::Parameters<double> p;
  noise::Lattice<double> h(L, A, p, init, {.alpha = 0.9, .std_reg = 0.05, .log_std_init = -0.5});
  for (Eigen::Index i = 0; i < p.value(0).size(); ++i) p.value(0)(i) = init.uniform(-0.5, 0.5);  // W
  CHECK(h.rollout_log_probs_afterwards(n_envs * 32));
  nn::Parameters<double> q;
  CHECK_FALSE(noise::Lattice<double>(L, 6, q, init, {}).rollout_log_probs_afterwards(n_envs * 32));  // small factors
  const Mat Z = random_matrix(L, n_envs, init);
  Rng a(3), b(3);
  h.reset_noise(p, n_envs, a);
  Tape<double> with, without, check;
  with.set_grad_enabled(false);
  without.set_grad_enabled(false);
  check.set_grad_enabled(false);
  const auto sampled = h.explore(p, with.constant(Z), a);
  h.reset_noise(p, n_envs, b);
  const auto bare = h.explore(p, without.constant(Z), b, false);
  CHECK(bare.action.value() == sampled.action.value());
  CHECK((bare.log_prob.value().array() == 0.0).all());
  const auto logp = h.log_prob(p, check.constant(Z), check.constant(Mat(sampled.action.value())));
  CHECK((logp.value() - sampled.log_prob.value()).cwiseAbs().maxCoeff() < 1e-9 * (1 + sampled.log_prob.value().cwiseAbs().maxCoeff()));
}

TEST_CASE("noise acting path: explore without gradients gives the differentiable path's bits") {
  check_acting_path<noise::DiagGaussian<double>>({.log_std_init = -0.5});
  check_acting_path<noise::DiagGaussian<float>>({.log_std_init = -0.5});
  check_acting_path<noise::Gsde<double>>({});
  check_acting_path<noise::Gsde<float>>({});
  check_acting_path<noise::Gsde<double>>({.squash_output = true});
  check_acting_path<noise::Gsde<float>>({.use_expln = true, .squash_output = true});
}

TEST_CASE("noise hot path: explore and log_prob allocate nothing in the steady state") {
  Rng rng(91);
  nn::Parameters<float> p;
  noise::Lattice<float> lat(16, 6, p, rng);
  nn::Parameters<float> q;
  noise::DiagGaussian<float> diag(16, 6, q, rng);
  Tape<float> t;
  const Eigen::MatrixXf Z = Eigen::MatrixXf::Random(16, 8), U = Eigen::MatrixXf::Random(6, 8);
  auto pass = [&] {
    t.clear();
    const auto z = t.constant(Z);
    const auto s = lat.explore(p, z, rng);
    const auto l = autodiff::sum(lat.log_prob(p, z, t.constant(U))) + autodiff::sum(s.log_prob);
    const auto d = autodiff::sum(diag.explore(q, z, rng).log_prob) + autodiff::sum(diag.log_prob(q, z, t.constant(U)));
    t.backward(l + d);
  };
  lat.reset_noise(p, 8, rng);
  pass();
  pass();
  const auto before = spindle_test::allocations();
  for (int i = 0; i < 10; ++i) pass();
  CHECK(spindle_test::allocations() == before);

  // The acting path (no gradients), at sizes where Eigen would put a temporary on the heap
  // (above its 128 KB stack limit).
  nn::Parameters<float> pd, pg;
  noise::DiagGaussian<float> big_diag(256, 8, pd, rng);
  noise::Gsde<float> big_gsde(256, 8, pg, rng);
  const Eigen::MatrixXf big_z = Eigen::MatrixXf::Random(256, 160);
  big_gsde.reset_noise(pg, 160, rng);
  Tape<float> acting;
  acting.set_grad_enabled(false);
  auto act = [&] {
    acting.clear();
    const auto z = acting.view(big_z.data(), 256, 160);
    big_diag.explore(pd, z, rng);
    big_gsde.explore(pg, z, rng);
  };
  act();
  act();
  const auto before_acting = spindle_test::allocations();
  for (int i = 0; i < 10; ++i) act();
  CHECK(spindle_test::allocations() == before_acting);
}

TEST_CASE("Lattice single-use resampling: the same distribution as fresh matrices, drawing L + A normals") {
  Rng rng(23);
  const Mat Z = random_matrix(L, 1, rng);
  nn::Parameters<double> p;
  noise::Lattice<double> h(L, A, p, rng, {.alpha = 0.8, .std_max = 10, .std_reg = 0.05, .log_std_init = -0.2});
  Rng r(7);
  for (Eigen::Index i = 0; i < p.value(2).size(); ++i) p.value(2)(i) = r.uniform(-1.5, 0.5);  // varied std
  Tape<double> t;
  const Mat want = h.covariance(p, t.constant(Z), 0);
  // (covariance() includes std_reg², which exploration does not add: compare against the draws' own Σ)
  const Mat sampled_cov = want - 0.05 * 0.05 * Mat::Identity(A, A);
  Rng draws(11);
  t.set_grad_enabled(false);
  const double err = empirical_covariance_error(200000, [&]() -> Eigen::VectorXd {
    t.clear();
    h.reset_noise_single_use(p, 1, draws);
    return h.explore(p, t.constant(Z), draws).action.value().col(0);
  }, sampled_cov);
  MESSAGE("Lattice single-use relative Frobenius error " << err);
  CHECK(err < 0.03);
  CHECK(h.exploration_matrices().size() == 0);
  // and the full matrices (the reference) give the same covariance the same way
  const double err_matrices = empirical_covariance_error(200000, [&]() -> Eigen::VectorXd {
    t.clear();
    h.reset_noise(p, 1, draws);
    return h.explore(p, t.constant(Z), draws).action.value().col(0);
  }, sampled_cov);
  CHECK(err_matrices < 0.03);
  // the log-prob is the full-covariance density of the action taken, for a batch of latents
  const Mat Zb = random_matrix(L, 5, rng);
  t.clear();
  h.reset_noise_single_use(p, 5, draws);
  const auto s = h.explore(p, t.constant(Zb), draws);
  Tape<double> u;
  const auto logp = h.log_prob(p, u.constant(Zb), u.constant(s.action.value()));
  CHECK((logp.value() - s.log_prob.value()).cwiseAbs().maxCoeff() < 1e-10);
}

}  // namespace test_noise
