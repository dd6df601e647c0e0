#pragma once
// Gaussian log-densities and entropies as single tape operations with
// closed-form gradients (the exploration-noise distributions are built on them).
//
//   normal_log_prob(x, mean, std)            diagonal Gaussian, one value per sample
//   lowrank_gaussian_log_prob(d, W, v, α)    full covariance Σ = α² W diag(v_x) Wᵀ + diag(v_a)
//   lowrank_gaussian_entropy(W, v, α)        its entropy
//   lowrank_gaussian_log_prob_and_entropy    both from one factorisation (2 × B; PPO's loss)
//
// The low-rank-plus-diagonal form is the Lattice covariance: W (A × L) is the
// action head, v = [v_a; v_x] stacks the A action variances over the L latent
// variances (one column per sample, or one column shared by the batch).
// Forward: per sample Σ is formed and factorised in place (Cholesky);
// log p = −½‖L⁻¹d‖² − Σ ln L_kk − (A/2) ln 2π.
// Backward uses ∂log p/∂Σ = ½(Σ⁻¹ddᵀΣ⁻¹ − Σ⁻¹), so
//   ∂/∂W = 2α² G W diag(v_x),  ∂/∂v_x,k = α² w_kᵀ G w_k,  ∂/∂v_a,k = G_kk,  ∂/∂d = −Σ⁻¹d.
// Batches with one covariance per sample skip the per-sample rank-L updates: with K the L × P
// matrix whose column (i, j) is w_i ∘ w_j (rows of W, i ≥ j, P = A(A+1)/2), every sample's packed
// lower triangle is one column of α² Kᵀ V_x, and the backward's ∂/∂V_x and ∂/∂W come from the
// packed G's the same way — three GEMMs for the batch instead of 3B small products. Their
// factors of 17–64 (MyoHand's, MyoArm's) are then computed for the whole batch at once
// (BatchFactors: one vector operation across the samples per step of the Cholesky and solves);
// on that route the three products run through SmallGemm in the factors' own layout (no packing
// of K, which is 0.8 MB at L 256, A 39; no copies of Σp or G), and the forward keeps K for the backward.
#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>
#include <utility>

#include "eigen_gemm.hpp"
#include "small_gemm.hpp"
#include "elementwise.hpp"
#include "tape.hpp"
#include "transpose.hpp"

namespace spindle::autodiff {

namespace detail {

template <class Scalar>
constexpr Scalar half_log_two_pi = Scalar(0.91893853320467274178032973640562);

// ∂ log N(x; μ, σ) for σ of shape A×B, A×1, 1×B or 1×1 (broadcast over the batch). Plain loops
// over (sample, action): Eigen's Replicate with run-time factors divides per coefficient and does not
// vectorise. σ's gradient is summed over the broadcast dimensions in storage order, one term after
// the other (as Eigen's reduction of a non-vectorisable expression adds them), so the bits are those
// of the expression form this replaced.
template <class Scalar>
void normal_log_prob_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const Eigen::Index A = t.node(n.input[0]).rows, B = n.cols;
  const Scalar* g = n.grad;
  const Scalar* x = t.value(n.input[0]).data();
  const Scalar* mu = t.value(n.input[1]).data();
  const auto sv = t.value(n.input[2]);
  const Scalar* s = sv.data();
  const Eigen::Index s_row = sv.rows() == 1 ? 0 : 1, s_col = sv.cols() == 1 ? 0 : sv.rows();
  const auto sigma = [&](Eigen::Index a, Eigen::Index b) { return s[a * s_row + b * s_col]; };
  const auto z = [&](Eigen::Index a, Eigen::Index b) { return (x[a + b * A] - mu[a + b * A]) / sigma(a, b); };
  // z = (x − μ)/σ: ∂/∂x = −z/σ, ∂/∂μ = z/σ, ∂/∂σ = (z² − 1)/σ, each times the sample's upstream gradient.
  const auto d_sigma = [&](Eigen::Index a, Eigen::Index b) {
    const Scalar za = z(a, b);
    const Scalar square = za * za;  // its own statement: Clang contracts z² − 1 within one only
    return (g[b] * (square - Scalar(1))) / sigma(a, b);
  };
  const auto full = [&](int id, auto&& term) {
    t.accumulate_with(id, [&](auto out, bool add) {
      for (Eigen::Index b = 0; b < B; ++b)
        for (Eigen::Index a = 0; a < A; ++a) out(a, b) = add ? out(a, b) + term(a, b) : term(a, b);
    });
  };
  if (t.needs_grad(n.input[0])) full(n.input[0], [&](Eigen::Index a, Eigen::Index b) { return (-g[b] * z(a, b)) / sigma(a, b); });
  if (t.needs_grad(n.input[1])) full(n.input[1], [&](Eigen::Index a, Eigen::Index b) { return (g[b] * z(a, b)) / sigma(a, b); });
  if (!t.needs_grad(n.input[2])) return;
  if (s_row != 0 && s_col != 0) return full(n.input[2], d_sigma);
  t.accumulate_with(n.input[2], [&](auto out, bool add) {
    const auto put = [&](Eigen::Index i, Eigen::Index j, Scalar v) { out(i, j) = add ? out(i, j) + v : v; };
    if (s_row == 0 && s_col == 0) {  // 1×1: every term, column by column
      Scalar sum = d_sigma(0, 0);
      for (Eigen::Index b = 0; b < B; ++b)
        for (Eigen::Index a = b == 0 ? 1 : 0; a < A; ++a) sum += d_sigma(a, b);
      put(0, 0, sum);
    } else if (s_col == 0) {  // A×1: each action over the batch
      for (Eigen::Index a = 0; a < A; ++a) {
        Scalar sum = d_sigma(a, 0);
        for (Eigen::Index b = 1; b < B; ++b) sum += d_sigma(a, b);
        put(a, 0, sum);
      }
    } else {  // 1×B: each sample over the actions
      for (Eigen::Index b = 0; b < B; ++b) {
        Scalar sum = d_sigma(0, b);
        for (Eigen::Index a = 1; a < A; ++a) sum += d_sigma(a, b);
        put(0, b, sum);
      }
    }
  });
}

// ln of in[0, n) into out (distinct arrays), a SIMD packet at a time with Eigen's plog: whole
// packets, then the last `width` values again (an overlap recomputes values already done, to
// the same bits); fewer values than a packet go to the half-size packet, and below the smallest
// packet they are padded with ones.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // SIMD types as template arguments, as in Eigen
#endif
template <class Packet, class S>
void log_packets(const S* in, S* out, Eigen::Index n) noexcept {
  using namespace Eigen::internal;
  constexpr int width = unpacket_traits<Packet>::size;
  using Half = typename unpacket_traits<Packet>::half;
  if (n >= width) {
    Eigen::Index i = 0;
    for (; i + width <= n; i += width) pstoreu(out + i, plog(ploadu<Packet>(in + i)));
    if (i < n) pstoreu(out + n - width, plog(ploadu<Packet>(in + n - width)));
  } else if constexpr (unpacket_traits<Half>::size < width) {
    log_packets<Half>(in, out, n);
  } else if (n > 0) {
    alignas(64) S tail[width];
    for (int j = 0; j < width; ++j) tail[j] = j < n ? in[j] : S(1);
    pstore(tail, plog(pload<Packet>(tail)));
    for (Eigen::Index j = 0; j < n; ++j) out[j] = tail[j];
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// ln of n values, in[i] → out[i] (in ≠ out). SIMD through Eigen's plog, and every value goes
/// through the same polynomial whichever packet carries it, so its logarithm's bits depend on
/// the value alone (not on n or its position), within one build.
template <class S>
void log_values(const S* in, S* out, Eigen::Index n) noexcept {
  using namespace Eigen::internal;
  if constexpr (packet_traits<S>::Vectorizable && packet_traits<S>::HasLog && packet_traits<S>::size > 1)
    log_packets<typename packet_traits<S>::type>(in, out, n);
  else
    for (Eigen::Index i = 0; i < n; ++i) out[i] = std::log(in[i]);
}

// Rows [a0, a0 + na) of columns [b0, b0 + NB): adds each column's terms, in row order, to
// out (or starts it, at a0 = 0). sigma(a, b) and log_sigma(a, j) give σ and ln σ.
template <int NB, class S, class XT, class MT, class OT, class Sigma, class LogSigma>
void normal_log_prob_block(const XT& x, const MT& mu, OT& out, const Sigma& sigma, const LogSigma& log_sigma,
                           Eigen::Index a0, Eigen::Index na, Eigen::Index b0) {
  const auto term = [&](Eigen::Index a, int j) {
    const S z = (x(a0 + a, b0 + j) - mu(a0 + a, b0 + j)) / sigma(a0 + a, b0 + j);
    return S(-0.5) * (z * z) - log_sigma(a, j);
  };
  if constexpr (NB == 1) {  // one column: the terms first (independent, so they vectorise), then the sum
    S terms[64];             // na ≤ the 64 rows of a chunk
    for (Eigen::Index a = 0; a < na; ++a) terms[a] = term(a, 0);
    S acc = a0 == 0 ? terms[0] : out(0, b0) + terms[0];
    for (Eigen::Index a = 1; a < na; ++a) acc = acc + terms[a];
    out(0, b0) = acc;
    return;
  }
  S acc[NB];
  for (int j = 0; j < NB; ++j) acc[j] = a0 == 0 ? term(0, j) : out(0, b0 + j) + term(0, j);
  for (Eigen::Index a = 1; a < na; ++a)
    for (int j = 0; j < NB; ++j) acc[j] = acc[j] + term(a, j);
  for (int j = 0; j < NB; ++j) out(0, b0 + j) = acc[j];
}

// Chunks of rows × blocks of columns; ln σ of each chunk × block is computed first, so the
// arithmetic loop makes no calls. `shared`: σ(a, b) = σ(a) for every column.
template <bool Shared, class S, class XT, class MT, class OT, class Sigma>
void normal_log_prob_chunks(const XT& x, const MT& mu, OT& out, const Sigma& sigma, const S* log_sd) {
  const Eigen::Index A = x.rows(), B = x.cols();
  constexpr Eigen::Index rows_per_chunk = 64;  // normal_log_prob_block<1> relies on it
  constexpr int cols_per_block = 8;
  // σ of a chunk × block copied side by side (column j at j·na), so one log_values call
  // takes them all in whole packets.
  constexpr Eigen::Index buffer = rows_per_chunk * (Shared ? 1 : cols_per_block);
  alignas(64) S sigmas[buffer], logs[buffer];
  for (Eigen::Index a0 = 0; a0 < A; a0 += rows_per_chunk) {
    const Eigen::Index na = std::min(rows_per_chunk, A - a0);
    if constexpr (Shared) {
      if (log_sd) {
        for (Eigen::Index a = 0; a < na; ++a) logs[a] = log_sd[a0 + a];
      } else {
        for (Eigen::Index a = 0; a < na; ++a) sigmas[a] = sigma(a0 + a, 0);
        log_values(sigmas, logs, na);
      }
    }
    const auto log_sigma = [&](Eigen::Index a, int j) { return Shared ? logs[a] : logs[j * na + a]; };
    for (Eigen::Index b0 = 0; b0 < B;) {
      const int nb = B - b0 >= cols_per_block ? cols_per_block : 1;
      if constexpr (!Shared) {
        for (int j = 0; j < nb; ++j)
          for (Eigen::Index a = 0; a < na; ++a) sigmas[j * na + a] = sigma(a0 + a, b0 + j);
        log_values(sigmas, logs, na * nb);
      }
      if (nb == cols_per_block)
        normal_log_prob_block<cols_per_block, S>(x, mu, out, sigma, log_sigma, a0, na, b0);
      else
        normal_log_prob_block<1, S>(x, mu, out, sigma, log_sigma, a0, na, b0);
      b0 += nb;
    }
  }
}

/// The forward values of normal_log_prob: out(b) = Σ_a [−½((x−μ)/σ)² − ln σ] − (A/2) ln 2π,
/// each column summed row by row from row 0. Direct loops, no broadcasting expression (an
/// Eigen `replicate` costs an integer division per coefficient); blocks of columns run side
/// by side so the sums' dependency chains overlap, each still in row order; ln σ by
/// log_values (SIMD). Every caller (acting, training, tests) goes through here, so an
/// action's log-prob has the same bits wherever it is computed. A std shared by the batch
/// (A × 1) takes its logarithm once per row, or from `log_sd` (A values, by log_values)
/// when the caller has them.
template <class S, class XT, class MT, class ST, class OT>
void normal_log_prob_values(const XT& x, const MT& mu, const ST& sd, OT&& out, const S* log_sd = nullptr) {
  const Eigen::Index A = x.rows(), B = x.cols();
  if (sd.rows() == A && sd.cols() == B)
    normal_log_prob_chunks<false, S>(x, mu, out, [&](Eigen::Index a, Eigen::Index b) { return sd(a, b); }, log_sd);
  else if (sd.rows() == A)
    normal_log_prob_chunks<true, S>(x, mu, out, [&](Eigen::Index a, Eigen::Index) { return sd(a, 0); }, log_sd);
  else if (sd.cols() == B)
    normal_log_prob_chunks<false, S>(x, mu, out, [&](Eigen::Index, Eigen::Index b) { return sd(0, b); }, log_sd);
  else
    normal_log_prob_chunks<false, S>(x, mu, out, [&](Eigen::Index, Eigen::Index) { return sd(0, 0); }, log_sd);
  const S norm = S(A) * half_log_two_pi<S>;
  for (Eigen::Index b = 0; b < B; ++b) out(0, b) = (A == 0 ? S(0) : out(0, b)) - norm;
}

}  // namespace detail

/// log N(x; mean, diag std²), summed over rows: x and mean A × B, std A × B, A × 1, 1 × B or 1 × 1. Result 1 × B.
template <class S>
Var<S> normal_log_prob(Var<S> x, Var<S> mean, Var<S> std) {
  const Eigen::Index A = x.rows(), B = x.cols();
  if (mean.rows() != A || mean.cols() != B) throw_shape_error("normal_log_prob", "mean", A, B, mean.rows(), mean.cols());
  if ((std.rows() != A && std.rows() != 1) || (std.cols() != B && std.cols() != 1))
    throw_shape_error("normal_log_prob", "std", A, B, std.rows(), std.cols());
  Tape<S>& t = *x.tape;
  const int id = t.push(1, B, t.needs_grad(x.id) || t.needs_grad(mean.id) || t.needs_grad(std.id));
  Node<S>& n = t.node(id);
  n.input[0] = x.id;
  n.input[1] = mean.id;
  n.input[2] = std.id;
  if (n.requires_grad) n.backward = &detail::normal_log_prob_backward<S>;
  detail::normal_log_prob_values<S>(t.value(x.id), t.value(mean.id), t.value(std.id), t.value(id));
  return {&t, id};
}

namespace detail {

// expln(x) = exp(x) for x ≤ 0, log1p(x + ε) + 1 above (gSDE's use_expln: grows slowly for large x).
struct ExplnOp {  // param[0] = ε
  template <class N, class X, class Y>
  static void forward(const N& n, const X& x, Y& y) {
    using S = typename X::Scalar;
    const S eps = n.param[0];
    y = x.unaryExpr([eps](S v) { return v <= S(0) ? std::exp(v) : std::log1p(v + eps) + S(1); });
  }
  template <class N, class X, class Y, class G>
  static auto grad(const N& n, const X& x, const Y& y, const G& g) {
    using S = typename X::Scalar;
    const S eps = n.param[0];
    return (x <= S(0)).select(g * y, g / (x + (S(1) + eps)));
  }
};

/// Σ_b = α² W diag(v_x) Wᵀ + diag(v_a) into `sigma` (lower triangle), from column b of v (or its only column).
template <class Scalar, class WT, class VT>
void lowrank_covariance(const WT& W, const VT& v, Eigen::Index b, Scalar alpha,
                        Eigen::Ref<Matrix<Scalar>> sigma, Eigen::Ref<Matrix<Scalar>> scaled_w) {
  const Eigen::Index A = W.rows(), L = W.cols();
  const Eigen::Index c = v.cols() == 1 ? 0 : b;
  // M = α W diag(√v_x) so that Σ = M Mᵀ + diag(v_a): one symmetric rank-L update.
  scaled_w.noalias() = W * (alpha * v.col(c).segment(A, L).array().sqrt()).matrix().asDiagonal();
  sigma.template triangularView<Eigen::Lower>().setZero();
  sigma.template selfadjointView<Eigen::Lower>().rankUpdate(scaled_w);
  sigma.diagonal() += v.col(c).head(A);
}

// Factors up to this size (the muscle arm's 6 × 6, MyoElbow's, a finger's) take the plain loops
// below: at these sizes Eigen's dynamic-size LLT and triangular solves spend more on dispatch than on
// arithmetic, once per sample. All work on contiguous column-major A × A lower factors.
inline constexpr Eigen::Index small_factor_max = 16;

/// Lower Cholesky factor in place (left-looking, column by column; the lower triangle is read and
/// written, the strict upper one untouched). False when a pivot is not positive or is NaN.
template <class Scalar>
bool small_cholesky(Scalar* a, Eigen::Index A) noexcept {
  for (Eigen::Index j = 0; j < A; ++j) {
    Scalar* cj = a + j * A;
    for (Eigen::Index k = 0; k < j; ++k) {  // column j −= column k · a(j, k), from row j down
      const Scalar* ck = a + k * A;
      const Scalar ajk = ck[j];
      for (Eigen::Index i = j; i < A; ++i) cj[i] -= ck[i] * ajk;
    }
    if (!(cj[j] > Scalar(0))) return false;
    const Scalar pivot = std::sqrt(cj[j]);
    cj[j] = pivot;
    const Scalar inverse = Scalar(1) / pivot;  // one division per column (they serialise)
    for (Eigen::Index i = j + 1; i < A; ++i) cj[i] *= inverse;
  }
  return true;
}

/// y ← L⁻¹ y (forward substitution, column-oriented), from row `from` (rows above are zero).
template <class Scalar>
void small_solve_lower(const Scalar* l, Eigen::Index A, Scalar* y, Eigen::Index from = 0) noexcept {
  for (Eigen::Index j = from; j < A; ++j) {
    const Scalar* cj = l + j * A;
    const Scalar yj = y[j] / cj[j];
    y[j] = yj;
    for (Eigen::Index i = j + 1; i < A; ++i) y[i] -= cj[i] * yj;
  }
}

/// y ← L⁻ᵀ y (back substitution: row j of Lᵀ is column j of L).
template <class Scalar>
void small_solve_lower_transposed(const Scalar* l, Eigen::Index A, Scalar* y) noexcept {
  for (Eigen::Index j = A - 1; j >= 0; --j) {
    const Scalar* cj = l + j * A;
    Scalar s = y[j];
    for (Eigen::Index i = j + 1; i < A; ++i) s -= cj[i] * y[i];
    y[j] = s / cj[j];
  }
}

/// out ← Σ⁻¹ = L⁻ᵀ L⁻¹ (full, symmetric), with L⁻¹ built in `inverse` (A × A scratch, A ≤ small_factor_max).
template <class Scalar>
void small_inverse_from_cholesky(const Scalar* l, Eigen::Index A, Scalar* inverse, Scalar* out) noexcept {
  Scalar reciprocal[small_factor_max];  // 1 / L(j, j): A divisions instead of A(A + 1) / 2
  for (Eigen::Index j = 0; j < A; ++j) reciprocal[j] = Scalar(1) / l[j + j * A];
  for (Eigen::Index c = 0; c < A; ++c) {  // column c of L⁻¹: zero above row c, L⁻¹ e_c from it
    Scalar* y = inverse + c * A;
    for (Eigen::Index i = 0; i < A; ++i) y[i] = Scalar(0);
    y[c] = Scalar(1);
    for (Eigen::Index j = c; j < A; ++j) {
      const Scalar* cj = l + j * A;
      const Scalar yj = y[j] * reciprocal[j];
      y[j] = yj;
      for (Eigen::Index i = j + 1; i < A; ++i) y[i] -= cj[i] * yj;
    }
  }
  for (Eigen::Index j = 0; j < A; ++j)
    for (Eigen::Index i = j; i < A; ++i) {  // (L⁻ᵀ L⁻¹)(i, j) = Σ_k≥i L⁻¹(k, i) L⁻¹(k, j)
      const Scalar* ci = inverse + i * A;
      const Scalar* cj = inverse + j * A;
      Scalar s = 0;
      for (Eigen::Index k = i; k < A; ++k) s += ci[k] * cj[k];
      out[i + j * A] = s;
      out[j + i * A] = s;
    }
}

[[noreturn]] inline void throw_not_positive_definite(const char* where, Eigen::Index sample) {
  std::ostringstream msg;
  msg << where << ": the covariance of sample " << sample
      << " is not positive definite (a zero latent with alpha = 0 and std_reg = 0 makes it singular;"
         " set std_reg > 0) or holds NaN";
  throw not_positive_definite_error(msg.str());
}

/// Cholesky in place (lower); throws naming the sample and what to change when Σ is not positive definite.
template <class Scalar>
void cholesky_in_place(Eigen::Ref<Matrix<Scalar>> sigma, Eigen::Index sample, const char* where) {
  bool ok;
  if (sigma.rows() <= small_factor_max && sigma.outerStride() == sigma.rows()) {
    ok = small_cholesky(sigma.data(), sigma.rows());
  } else if (sigma.rows() <= 64) {
    // Small factors: Eigen's column-by-column kernel directly. LLT's blocked path splits a 39 × 39
    // factor into 8-wide panels whose triangular solves cost more than the arithmetic.
    ok = Eigen::internal::llt_inplace<Scalar, Eigen::Lower>::unblocked(sigma) == -1;
  } else {
    Eigen::LLT<Eigen::Ref<Matrix<Scalar>>, Eigen::Lower> llt(sigma);
    ok = llt.info() == Eigen::Success;
  }
  for (Eigen::Index k = 0; ok && k < sigma.rows(); ++k) ok = sigma(k, k) > Scalar(0) && std::isfinite(sigma(k, k));
  if (!ok) throw_not_positive_definite(where, sample);
}

/// One sample's Gaussian from its covariance: `chol` holds Σ (lower triangle) on entry and its
/// Cholesky factor on exit. The entropy ½ ln det(2πeΣ), or log N(mean + d; mean, Σ) with d in `y`
/// on entry and Σ⁻¹d (kept for the backward) on exit.
template <class Scalar>
Scalar gaussian_from_covariance(MatrixMap<Scalar> chol, MatrixMap<Scalar> y, bool entropy, Eigen::Index sample,
                                const char* where, Scalar* also_entropy = nullptr) {
  const Eigen::Index A = chol.rows();
  cholesky_in_place<Scalar>(chol, sample, where);
  const Scalar half_logdet = chol.diagonal().array().log().sum();
  if (entropy) return Scalar(A) * (Scalar(0.5) + half_log_two_pi<Scalar>) + half_logdet;
  if (also_entropy) *also_entropy = Scalar(A) * (Scalar(0.5) + half_log_two_pi<Scalar>) + half_logdet;
  const bool small = A <= small_factor_max;
  if (small)
    small_solve_lower(chol.data(), A, y.data());
  else
    chol.template triangularView<Eigen::Lower>().solveInPlace(y);
  const Scalar value = Scalar(-0.5) * y.squaredNorm() - half_logdet - Scalar(A) * half_log_two_pi<Scalar>;
  if (small)
    small_solve_lower_transposed(chol.data(), A, y.data());
  else
    chol.template triangularView<Eigen::Lower>().transpose().solveInPlace(y);
  return value;
}

/// G ← ∂/∂Σ of one sample times its upstream gradient g: ½g(yyᵀ − Σ⁻¹) for the log-prob (y = Σ⁻¹d),
/// ½gΣ⁻¹ for the entropy; with `both`, the log-prob's (g) plus the entropy's (h): ½(g(yyᵀ − Σ⁻¹) + hΣ⁻¹).
/// From the Cholesky factor (inv, outer: A × A scratch).
template <class Scalar>
void covariance_gradient(const ConstMatrixMap<Scalar>& chol, const ConstMatrixMap<Scalar>& y, Scalar g, bool entropy,
                         MatrixMap<Scalar> inv, MatrixMap<Scalar> G, MatrixMap<Scalar> outer, bool both = false,
                         Scalar h = Scalar(0)) {
  const Eigen::Index A = chol.rows();
  // Σ⁻¹ = L⁻ᵀ L⁻¹
  if (A <= small_factor_max) {
    small_inverse_from_cholesky(chol.data(), A, inv.data(), G.data());
  } else {
    inv.setIdentity();
    chol.template triangularView<Eigen::Lower>().solveInPlace(inv);
    G.noalias() = inv.transpose() * inv;
  }
  if (entropy) {
    G *= Scalar(0.5) * g;  // ∂H/∂Σ = ½ Σ⁻¹
  } else if (both) {
    outer.noalias() = y * y.transpose();
    G = Scalar(0.5) * (g * (outer - G) + h * G);
  } else {
    outer.noalias() = y * y.transpose();
    G = Scalar(0.5) * g * (outer - G);
  }
}

/// Column b of ∂log p/∂d = −g Σ⁻¹d. The caller marks the node written after its last column.
template <class Scalar>
void solved_gradient_column(Tape<Scalar>& t, int d_id, Eigen::Index b, Scalar g, const ConstMatrixMap<Scalar>& y) {
  Node<Scalar>& dn = t.node(d_id);
  MatrixMap<Scalar> gd(dn.grad, dn.rows, dn.cols);
  if (dn.external_grad || dn.grad_written)
    gd.col(b) -= g * y.col(0);
  else
    gd.col(b) = -g * y.col(0);
}

/// Batches with one covariance per sample take the GEMM path from this many samples on
/// (measured: spindle_bench_noise's lattice rows and log-density rows).
inline constexpr Eigen::Index lowrank_batched_from = 4;

/// Packed lower triangle of an A × A matrix, column by column: (i, j), i ≥ j.
struct PackedLower {
  Eigen::Index A;
  Eigen::Index size() const noexcept { return A * (A + 1) / 2; }
  Eigen::Index column(Eigen::Index j) const noexcept { return j * A - j * (j - 1) / 2; }  // offset of (j, j)
};

/// K (L × P): column (i, j) = wᵢ ∘ wⱼ for the rows wᵢ of W (A × L), through Wᵀ (L × A, scratch).
template <class Scalar, class WT>
void khatri_rao_lower(const WT& W, MatrixMap<Scalar> w_t, MatrixMap<Scalar> K) {
  const Eigen::Index A = W.rows();
  const PackedLower packed{A};
  transpose_into(W, w_t);
  for (Eigen::Index j = 0; j < A; ++j)
    for (Eigen::Index i = j; i < A; ++i) K.col(packed.column(j) + i - j) = w_t.col(i).cwiseProduct(w_t.col(j));
}

/// The backward of khatri_rao_lower: dW_t (L × A) ← the gradient of Wᵀ from H = ∂/∂K (L × P). Column
/// (i, j) of K is wᵢ ∘ wⱼ, so H's column (i, j) sends H ∘ wⱼ to row i of W and H ∘ wᵢ to row j.
template <class Scalar, class HT>
void khatri_rao_lower_backward(const HT& H, const MatrixMap<Scalar>& w_t, MatrixMap<Scalar> dW_t) {
  const Eigen::Index A = w_t.cols();
  const PackedLower packed{A};
  dW_t.setZero();
  for (Eigen::Index j = 0; j < A; ++j)
    for (Eigen::Index i = j; i < A; ++i) {
      const auto h = H.col(packed.column(j) + i - j);
      dW_t.col(i) += h.cwiseProduct(w_t.col(j));
      dW_t.col(j) += h.cwiseProduct(w_t.col(i));
    }
}

// Offsets into tape scratch memory stay 64-byte aligned (the maps assume alignment).
template <class Scalar>
constexpr Eigen::Index padded(Eigen::Index n) {
  constexpr Eigen::Index per_line = 64 / static_cast<Eigen::Index>(sizeof(Scalar));
  return (n + per_line - 1) / per_line * per_line;
}

template <class Scalar>
struct LowRankLayout {  // aux buffer: per sample the Cholesky factor (A×A) and Σ⁻¹d (A)
  Eigen::Index A, B;
  Eigen::Index stride() const { return padded<Scalar>(A * A) + padded<Scalar>(A); }
  Scalar* factor(Scalar* aux, Eigen::Index b) const { return aux + b * stride(); }
  Scalar* solved(Scalar* aux, Eigen::Index b) const { return aux + b * stride() + padded<Scalar>(A * A); }
  std::size_t size() const { return static_cast<std::size_t>(B * stride()); }
};

// Factors at most this large (MyoHand's 39 muscles, MyoArm's 63) run batch-parallel (BatchFactors)
// whenever the batch has its own covariance per sample: every step of the Cholesky, the solves and
// Σ⁻¹ is one vector operation over the batch. Per sample, Eigen's dynamic-size kernels spend more
// on dispatch than on arithmetic at these sizes (measured: spindle_bench_noise lowrank rows).
inline constexpr Eigen::Index batch_factor_max = 64;

// Factors up to batch_factor_max for the whole batch at once: each packed entry is a column of
// B values (sample b in row b, leading dimension ld), so every step of the Cholesky, the solves and
// Σ⁻¹ is one vector operation over the batch instead of an A-sized loop per sample. Same
// left-looking order as small_cholesky. aux: the factor (P columns), then Σ⁻¹d (A columns).
template <class Scalar>
struct BatchFactors {
  Eigen::Index A, B, ld;
  Scalar* factor;
  Scalar* solved;
  static Eigen::Index size(Eigen::Index A, Eigen::Index B) { return (A * (A + 1) / 2 + A) * padded<Scalar>(B); }
  BatchFactors(Eigen::Index a, Eigen::Index b, Scalar* aux)
      : A(a), B(b), ld(padded<Scalar>(b)), factor(aux), solved(aux + (a * (a + 1) / 2) * padded<Scalar>(b)) {}
  Scalar* l(Eigen::Index i, Eigen::Index j) const { return factor + (PackedLower{A}.column(j) + i - j) * ld; }
  Scalar* y(Eigen::Index i) const { return solved + i * ld; }
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // SIMD types as template arguments (the batch loops' packets)
#endif
// The batch loops (the Cholesky's updates, the backward's L⁻¹ and Σ⁻¹) keep up to batch_rows
// accumulators of one cache line of lanes each in registers over the whole inner sum (plain
// loops loaded and stored a running sum per multiply-add: ~2× slower at A 39); the row count is
// a template argument so that every accumulator has a fixed register. Every lane's sum runs over
// k in the plain loops' order, so the bits are the same (pmadd is the fused multiply-add the
// plain loops compile to). The last, partial block of lanes runs the same sums lane by lane.
template <class Scalar>
inline constexpr Eigen::Index batch_lanes = 64 / static_cast<Eigen::Index>(sizeof(Scalar));
inline constexpr int batch_rows = 4;

template <int Count, class F>
inline void unrolled(F&& f) {  // f(0), …, f(Count − 1) with compile-time arguments
  [&]<int... r>(std::integer_sequence<int, r...>) { (f(std::integral_constant<int, r>{}), ...); }(
      std::make_integer_sequence<int, Count>{});
}

// f(R) with R = min(batch_rows, count) as a compile-time argument: a block of rows that fits.
template <class F>
inline void with_rows(Eigen::Index count, F&& f) {
  switch (std::min<Eigen::Index>(batch_rows, count)) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    default: f(std::integral_constant<int, batch_rows>{}); break;
  }
}

// The Cholesky's update of rows i0 … i0 + Rows − 1 of column j on lanes [b0, b0 + n):
// a(i, j) −= a(i, k) a(j, k) for k = 0 … j − 1 in order, each a fused multiply-add as in the plain loop.
template <class Scalar, int Rows, bool Full>
void batch_cholesky_rows(const BatchFactors<Scalar>& F, Eigen::Index b0, Eigen::Index n, Eigen::Index i0,
                         Eigen::Index j) noexcept {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr int width = unpacket_traits<Packet>::size;
  if constexpr (Full) {
    constexpr int packets = int(batch_lanes<Scalar>) / width;
    Packet acc[Rows][packets];
    unrolled<Rows>([&](auto r) {
      for (int q = 0; q < packets; ++q) acc[r][q] = pload<Packet>(F.l(i0 + r, j) + b0 + q * width);
    });
    for (Eigen::Index k = 0; k < j; ++k) {
      Packet ajk[packets];
      for (int q = 0; q < packets; ++q) ajk[q] = pload<Packet>(F.l(j, k) + b0 + q * width);
      unrolled<Rows>([&](auto r) {
        for (int q = 0; q < packets; ++q)
          acc[r][q] = pmadd(pnegate(pload<Packet>(F.l(i0 + r, k) + b0 + q * width)), ajk[q], acc[r][q]);
      });
    }
    unrolled<Rows>([&](auto r) {
      for (int q = 0; q < packets; ++q) pstore(F.l(i0 + r, j) + b0 + q * width, acc[r][q]);
    });
  } else {
    for (Eigen::Index r = 0; r < Rows; ++r) {
      Scalar* aij = F.l(i0 + r, j) + b0;
      for (Eigen::Index k = 0; k < j; ++k) {
        const Scalar* aik = F.l(i0 + r, k) + b0;
        const Scalar* ajk = F.l(j, k) + b0;
        for (Eigen::Index c = 0; c < n; ++c) aij[c] -= aik[c] * ajk[c];
      }
    }
  }
}

// Forward, with Σp already in F's factor (entry e of sample b at factor[e·ld + b]): factor it, then
// the entropy, or the log-prob of d (A × B) keeping Σ⁻¹d. `work`: 2·ld scratch.
template <class Scalar>
void batch_gaussian_factor(const Scalar* d, const BatchFactors<Scalar>& F, Scalar* out, Scalar* work, bool entropy,
                           const char* where, Scalar* also_entropy = nullptr) {
  const Eigen::Index A = F.A, B = F.B;
  Scalar* reciprocal = work;
  Scalar* logs = work + F.ld;
  for (Eigen::Index b = 0; b < B; ++b) out[b] = Scalar(0);  // Σ ln L_jj, the half log-determinant
  constexpr Eigen::Index N = batch_lanes<Scalar>;
  for (Eigen::Index j = 0; j < A; ++j) {
    for (Eigen::Index b0 = 0; b0 < B; b0 += N)  // a(i, j) −= Σ_{k<j} a(i, k) a(j, k), rows i ≥ j
      for (Eigen::Index i0 = j; i0 < A; i0 += batch_rows)
        with_rows(A - i0, [&](auto rows) {
          if (b0 + N <= B)
            batch_cholesky_rows<Scalar, rows, true>(F, b0, N, i0, j);
          else
            batch_cholesky_rows<Scalar, rows, false>(F, b0, B - b0, i0, j);
        });
    Scalar* pivot = F.l(j, j);
    bool ok = true;
    for (Eigen::Index b = 0; b < B; ++b) ok &= (pivot[b] > Scalar(0)) & (pivot[b] <= std::numeric_limits<Scalar>::max());
    if (!ok)
      for (Eigen::Index b = 0; b < B; ++b)
        if (!(pivot[b] > Scalar(0) && pivot[b] <= std::numeric_limits<Scalar>::max())) throw_not_positive_definite(where, b);
    for (Eigen::Index b = 0; b < B; ++b) {
      pivot[b] = std::sqrt(pivot[b]);
      reciprocal[b] = Scalar(1) / pivot[b];
    }
    for (Eigen::Index i = j + 1; i < A; ++i) {
      Scalar* aij = F.l(i, j);
      for (Eigen::Index b = 0; b < B; ++b) aij[b] *= reciprocal[b];
    }
    log_values(pivot, logs, B);
    for (Eigen::Index b = 0; b < B; ++b) out[b] += logs[b];
  }
  if (entropy) {
    for (Eigen::Index b = 0; b < B; ++b) out[b] += Scalar(A) * (Scalar(0.5) + half_log_two_pi<Scalar>);
    return;
  }
  if (also_entropy)  // the same sum as the entropy's line above
    for (Eigen::Index b = 0; b < B; ++b) also_entropy[b] = out[b] + Scalar(A) * (Scalar(0.5) + half_log_two_pi<Scalar>);
  for (Eigen::Index i = 0; i < A; ++i)
    for (Eigen::Index b = 0; b < B; ++b) F.y(i)[b] = d[i + b * A];
  Scalar* squares = work;
  for (Eigen::Index b = 0; b < B; ++b) squares[b] = Scalar(0);
  for (Eigen::Index j = 0; j < A; ++j) {  // y ← L⁻¹d
    Scalar* yj = F.y(j);
    const Scalar* ljj = F.l(j, j);
    for (Eigen::Index b = 0; b < B; ++b) {
      yj[b] /= ljj[b];
      squares[b] += yj[b] * yj[b];
    }
    for (Eigen::Index i = j + 1; i < A; ++i) {
      Scalar* yi = F.y(i);
      const Scalar* lij = F.l(i, j);
      for (Eigen::Index b = 0; b < B; ++b) yi[b] -= lij[b] * yj[b];
    }
  }
  for (Eigen::Index b = 0; b < B; ++b) out[b] = Scalar(-0.5) * squares[b] - out[b] - Scalar(A) * half_log_two_pi<Scalar>;
  for (Eigen::Index j = A - 1; j >= 0; --j) {  // y ← L⁻ᵀy = Σ⁻¹d, kept for the backward
    Scalar* yj = F.y(j);
    for (Eigen::Index i = j + 1; i < A; ++i) {
      const Scalar* yi = F.y(i);
      const Scalar* lij = F.l(i, j);
      for (Eigen::Index b = 0; b < B; ++b) yj[b] -= lij[b] * yi[b];
    }
    const Scalar* ljj = F.l(j, j);
    for (Eigen::Index b = 0; b < B; ++b) yj[b] /= ljj[b];
  }
}

// The same from Σp (P × B).
template <class Scalar>
void batch_gaussian_forward(const MatrixMap<Scalar>& Sp, const Scalar* d, const BatchFactors<Scalar>& F, Scalar* out,
                            Scalar* work, bool entropy, const char* where) {
  const Eigen::Index B = F.B, P = Sp.rows();
  for (Eigen::Index b = 0; b < B; ++b)
    for (Eigen::Index e = 0; e < P; ++e) F.factor[e * F.ld + b] = Sp(e, b);
  batch_gaussian_factor<Scalar>(d, F, out, work, entropy, where);
}

// Accumulators for Rows rows of one block of lanes: packets for a full block, scalars otherwise.
template <class Scalar, int Rows, bool Full>
struct LaneSums {
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  static constexpr int width = Eigen::internal::unpacket_traits<Packet>::size;
  static constexpr int packets = Full ? int(batch_lanes<Scalar>) / width : 1;
  Packet acc[Rows][packets];
  Scalar partial[Rows][batch_lanes<Scalar>];
  Eigen::Index n;
  explicit LaneSums(Eigen::Index lanes) : n(lanes) {
    for (int r = 0; r < Rows; ++r) {
      if constexpr (Full)
        for (int q = 0; q < packets; ++q) acc[r][q] = Eigen::internal::pset1<Packet>(Scalar(0));
      else
        for (Eigen::Index c = 0; c < n; ++c) partial[r][c] = Scalar(0);
    }
  }
  // row r += a ∘ b over the lanes (a, b: 64-byte aligned for a full block)
  template <int r>
  void add(const Scalar* a, const Scalar* b) {
    using namespace Eigen::internal;
    if constexpr (Full)
      for (int q = 0; q < packets; ++q) acc[r][q] = pmadd(pload<Packet>(a + q * width), pload<Packet>(b + q * width), acc[r][q]);
    else
      for (Eigen::Index c = 0; c < n; ++c) partial[r][c] += a[c] * b[c];
  }
  // row r's sums, lane by lane
  template <int r>
  const Scalar* values() {
    if constexpr (Full)
      for (int q = 0; q < packets; ++q) Eigen::internal::pstoreu(partial[r] + q * width, acc[r][q]);
    return partial[r];
  }
};

// Rows i of L⁻¹'s columns c0 … c0 + Cols − 1 (packed like L in `inverse`), lanes [b0, b0 + n):
// x(c, c) = 1 / l(c, c), x(i, c) = −(Σ_{k=c}^{i−1} l(i, k) x(k, c)) / l(i, i).
template <class Scalar, int Cols, bool Full>
void batch_inverse_columns(const BatchFactors<Scalar>& F, Eigen::Index b0, Eigen::Index n, Eigen::Index c0,
                           Scalar* inverse) noexcept {
  const Eigen::Index A = F.A, ld = F.ld;
  const PackedLower packed{A};
  auto x = [&](Eigen::Index i, Eigen::Index j) { return inverse + (packed.column(j) + i - j) * ld + b0; };
  auto l = [&](Eigen::Index i, Eigen::Index j) { return F.l(i, j) + b0; };
  for (Eigen::Index r = 0; r < Cols; ++r) {
    Scalar* xcc = x(c0 + r, c0 + r);
    const Scalar* lcc = l(c0 + r, c0 + r);
    for (Eigen::Index c = 0; c < n; ++c) xcc[c] = Scalar(1) / lcc[c];
  }
  for (Eigen::Index i = c0 + 1; i < A; ++i) {
    LaneSums<Scalar, Cols, Full> sums(n);
    const Eigen::Index head = std::min(c0 + Cols, i);  // k = c0 + t < head reaches columns c0 + r, r ≤ t
    for (Eigen::Index k = c0; k < head; ++k)
      unrolled<Cols>([&](auto r) {
        if (r <= k - c0) sums.template add<r>(l(i, k), x(k, c0 + r));
      });
    for (Eigen::Index k = head; k < i; ++k)
      unrolled<Cols>([&](auto r) { sums.template add<r>(l(i, k), x(k, c0 + r)); });
    const Scalar* lii = l(i, i);
    unrolled<Cols>([&](auto r) {
      if (c0 + r >= i) return;  // row i of column c0 + r ≥ i: the diagonal (set above) or above it
      const Scalar* sum = sums.template values<r>();
      Scalar* xic = x(i, c0 + r);
      for (Eigen::Index c = 0; c < n; ++c) xic[c] = -sum[c] / lii[c];
    });
  }
}

// Σ⁻¹(i, j) = Σ_{k≥i} L⁻¹(k, i) L⁻¹(k, j) for rows i0 … i0 + Rows − 1 of column j, lanes [b0, b0 + n),
// then ∂/∂Σ(i, j) = weight · g · (y_i y_j − Σ⁻¹(i, j)) (or g · Σ⁻¹(i, j) for the entropy; with h, the
// entropy's gradient beside the log-prob's: weight · (g · (y_i y_j − Σ⁻¹(i, j)) + h · Σ⁻¹(i, j))) into gs.
template <class Scalar, int Rows, bool Full>
void batch_precision_rows(const BatchFactors<Scalar>& F, const Scalar* inverse, const Scalar* g, const Scalar* h,
                          Eigen::Index b0, Eigen::Index n, Eigen::Index i0, Eigen::Index j, Scalar* gs,
                          Eigen::Index entry_stride, Eigen::Index sample_stride, bool add_s, bool entropy) noexcept {
  const Eigen::Index A = F.A, ld = F.ld;
  const PackedLower packed{A};
  auto x = [&](Eigen::Index i, Eigen::Index c) { return inverse + (packed.column(c) + i - c) * ld + b0; };
  LaneSums<Scalar, Rows, Full> sums(n);
  for (Eigen::Index k = i0; k < i0 + Rows; ++k)  // k = i0 + t reaches rows i0 + r, r ≤ t
    unrolled<Rows>([&](auto r) {
      if (r <= k - i0) sums.template add<r>(x(k, i0 + r), x(k, j));
    });
  for (Eigen::Index k = i0 + Rows; k < A; ++k)
    unrolled<Rows>([&](auto r) { sums.template add<r>(x(k, i0 + r), x(k, j)); });
  unrolled<Rows>([&](auto r) {
    const Scalar* sum = sums.template values<r>();
    const Eigen::Index i = i0 + r;
    const Scalar weight = i == j ? Scalar(0.5) : Scalar(1);  // ½ of ∂/∂Σ, doubled off the diagonal
    const Scalar* yi = F.y(i) + b0;
    const Scalar* yj = F.y(j) + b0;
    const Scalar* gb = g + b0;
    Scalar* entry = gs + (packed.column(j) + i - j) * entry_stride + b0 * sample_stride;
    auto store = [&](Eigen::Index c, Scalar v) {
      if (add_s)
        entry[c * sample_stride] += v;
      else
        entry[c * sample_stride] = v;
    };
    if (h) {
      const Scalar* hb = h + b0;
      for (Eigen::Index c = 0; c < n; ++c) store(c, weight * (gb[c] * (yi[c] * yj[c] - sum[c]) + hb[c] * sum[c]));
    } else {
      for (Eigen::Index c = 0; c < n; ++c) store(c, weight * gb[c] * (entropy ? sum[c] : yi[c] * yj[c] - sum[c]));
    }
  });
}

// Dispatch on the block's row count (1 … batch_rows) and whether the lanes are a full block.
template <class Scalar, bool Full>
void batch_backward_lanes(const BatchFactors<Scalar>& F, const Scalar* g, const Scalar* h, Eigen::Index b0, Eigen::Index n,
                          Scalar* gs, Eigen::Index entry_stride, Eigen::Index sample_stride, bool add_s, Scalar* inverse,
                          bool entropy) noexcept {
  const Eigen::Index A = F.A;
  for (Eigen::Index c0 = 0; c0 < A; c0 += batch_rows)
    with_rows(A - c0, [&](auto cols) { batch_inverse_columns<Scalar, cols, Full>(F, b0, n, c0, inverse); });
  for (Eigen::Index j = 0; j < A; ++j)
    for (Eigen::Index i0 = j; i0 < A; i0 += batch_rows)
      with_rows(A - i0, [&](auto rows) {
        batch_precision_rows<Scalar, rows, Full>(F, inverse, g, h, b0, n, i0, j, gs, entry_stride, sample_stride, add_s,
                                                 entropy);
      });
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// Backward: ∂/∂Σp (G's packed entries, off-diagonals doubled) into gs (entry e of sample b at
// gs[e·entry_stride + b·sample_stride]: P × B column-major is (1, P), F's layout is (ld, 1)) and −gΣ⁻¹d
// into gd (A × B; either may be null), from Σ⁻¹ = L⁻ᵀL⁻¹ with L⁻¹ formed in `inverse` (P·ld scratch).
// h (B, or null): the entropy's upstream gradient beside the log-prob's g (one node holding both).
template <class Scalar>
void batch_gaussian_backward(const BatchFactors<Scalar>& F, const Scalar* g, Scalar* gs, Eigen::Index entry_stride,
                             Eigen::Index sample_stride, bool add_s, Scalar* gd, bool add_d, Scalar* inverse,
                             bool entropy, const Scalar* h = nullptr) {
  const Eigen::Index A = F.A, B = F.B;
  if (gd)
    for (Eigen::Index b = 0; b < B; ++b)
      for (Eigen::Index i = 0; i < A; ++i) {
        const Scalar v = -g[b] * F.y(i)[b];
        if (add_d)
          gd[i + b * A] += v;
        else
          gd[i + b * A] = v;
      }
  if (!gs) return;
  // Lanes [0, B) in blocks of one cache line (the batch's padding unit), the last block partial.
  constexpr Eigen::Index N = batch_lanes<Scalar>;
  for (Eigen::Index b0 = 0; b0 < B; b0 += N) {
    if (b0 + N <= B)
      batch_backward_lanes<Scalar, true>(F, g, h, b0, N, gs, entry_stride, sample_stride, add_s, inverse, entropy);
    else
      batch_backward_lanes<Scalar, false>(F, g, h, b0, B - b0, gs, entry_stride, sample_stride, add_s, inverse, entropy);
  }
}

/// Whether B samples' A × A factors run batch-parallel: always for small factors, and up to
/// batch_factor_max once there are enough samples to fill the vector lanes.
inline bool batch_factors_apply(Eigen::Index A, Eigen::Index B) noexcept {
  return A <= small_factor_max || (A <= batch_factor_max && B >= lowrank_batched_from);
}

/// Whether lowrank_gaussian factors its batch in parallel: one covariance per sample (batched) and a
/// factor above the per-sample loops' size. Small factors keep the per-sample loops, with whose
/// rounding the muscle-arm, MyoElbow and MyoFinger results were measured.
inline bool lowrank_batch_parallel(Eigen::Index A, Eigen::Index B, bool batched) noexcept {
  return batched && A > small_factor_max && batch_factors_apply(A, B);
}

// C (m × n, ldc) = or += A (m × k, column-major, lda) · B with B(p, q) = b[p·brs + q·bcs], for Lattice's K
// products at MyoHand's and MyoArm's sizes (P = 780 or 2016 packed entries, 256 latents, a minibatch):
// SmallGemm reads both operands in place where Eigen's GEMM packs 0.8–2 MB of K per call (measured 2–3×
// faster at L 256, A 39, B 32). `fallback` runs Eigen's (product_into) when m is not whole packets.
template <class Scalar, class Fallback>
void k_product(bool accumulate, Eigen::Index m, Eigen::Index n, Eigen::Index k, const Scalar* a, Eigen::Index lda,
               const Scalar* b, Eigen::Index brs, Eigen::Index bcs, Scalar* c, Eigen::Index ldc, Fallback&& fallback) {
  using G = SmallGemm<Scalar>;
  if (!G::applies_rows(m)) return fallback();
  if (accumulate) G::template run<true>(m, n, k, a, lda, b, brs, bcs, c, ldc);
  else G::template run<false>(m, n, k, a, lda, b, brs, bcs, c, ldc);
}

// The batch-parallel backward's products with K (L × P, wᵢ ∘ wⱼ, kept by the forward after the factors
// in aux): ∂/∂V_x = α² K Gp and ∂/∂W from H = α² V_x Gpᵀ (L × P); ∂/∂v_a,j = G(j, j). GpT: Gpᵀ before α².
template <class Scalar, class WT, class VT>
void lowrank_batch_products_backward(Tape<Scalar>& t, const Node<Scalar>& n, const WT& W, const VT& v,
                                     const BatchFactors<Scalar>& F, MatrixMap<Scalar> GpT, MatrixMap<Scalar> dW) {
  const int w_id = n.input[n.tag == 1 ? 0 : 1], v_id = n.input[n.tag == 1 ? 1 : 2];
  const bool want_w = t.needs_grad(w_id), want_v = t.needs_grad(v_id);
  const Eigen::Index A = F.A, B = F.B, L = W.cols(), P = GpT.cols(), ld = F.ld;
  const Scalar alpha = n.param[0];
  const PackedLower packed{A};
  if (want_v) {
    Node<Scalar>& vn = t.node(v_id);
    MatrixMap<Scalar> gv(vn.grad, vn.rows, vn.cols);
    const bool add = vn.external_grad || vn.grad_written;
    for (Eigen::Index j = 0; j < A; ++j) {  // ∂/∂v_a,j = G(j, j)
      if (add)
        gv.row(j) += GpT.col(packed.column(j)).head(B).transpose();
      else
        gv.row(j) = GpT.col(packed.column(j)).head(B).transpose();
    }
  }
  GpT.topRows(B) *= alpha * alpha;
  const MatrixMap<Scalar> K(F.factor + BatchFactors<Scalar>::size(A, B), L, P);
  if (want_v) {  // ∂/∂V_x (L × B) = K · Gp, Gp read as (GpT)ᵀ
    Node<Scalar>& vn = t.node(v_id);
    MatrixMap<Scalar> gv(vn.grad, vn.rows, vn.cols);
    const bool add = vn.external_grad || vn.grad_written;
    k_product<Scalar>(add, L, B, P, K.data(), L, GpT.data(), ld, 1, gv.data() + A, vn.rows,
                      [&] { product_into(gv.bottomRows(L), add, K, GpT.topRows(B).transpose()); });
  }
  if (want_w) {  // H (L × P) = V_x · Gpᵀ
    MatrixMap<Scalar> H(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * P))), L, P);
    k_product<Scalar>(false, L, P, B, v.data() + A, v.rows(), GpT.data(), 1, ld, H.data(), L,
                      [&] { product_into(H, false, v.bottomRows(L), GpT.topRows(B)); });
    MatrixMap<Scalar> w_t(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * A))), L, A);
    transpose_into(W, w_t);
    MatrixMap<Scalar> dW_t(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * A))), L, A);
    khatri_rao_lower_backward<Scalar>(H, w_t, dW_t);
    transpose_into(dW_t, dW);
  }
}

// tag 0: log-prob (inputs d, W, v); tag 1: entropy (inputs W, v); tag 2: both (inputs d, W, v; 2 × B,
// the log-prob in row 0 and the entropy in row 1).
template <class Scalar>
void lowrank_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const bool entropy = n.tag == 1, both = n.tag == 2;
  const int d_id = entropy ? -1 : n.input[0], w_id = n.input[entropy ? 0 : 1], v_id = n.input[entropy ? 1 : 2];
  const auto W = t.value(w_id);
  const auto v = t.value(v_id);
  const Eigen::Index A = W.rows(), L = W.cols(), B = n.cols;
  const Scalar alpha = n.param[0];
  const LowRankLayout<Scalar> layout{A, B};
  const Eigen::Index sq = padded<Scalar>(A * A), wl = padded<Scalar>(A * L);
  Scalar* work = t.scratch(static_cast<std::size_t>(3 * sq + 2 * wl + padded<Scalar>(A + L)));  // freed by clear()
  MatrixMap<Scalar> inv(work, A, A), G(work + sq, A, A), GW(work + 2 * sq, A, L);
  MatrixMap<Scalar> dW(work + 2 * sq + wl, A, L);
  MatrixMap<Scalar> dv(work + 2 * sq + 2 * wl, A + L, 1);
  MatrixMap<Scalar> outer(work + 2 * sq + 2 * wl + padded<Scalar>(A + L), A, A);  // y yᵀ, not a heap temporary
  dW.setZero();
  const bool want_w = t.needs_grad(w_id), want_v = t.needs_grad(v_id);
  const bool batched = v.cols() == B && B >= lowrank_batched_from;
  const PackedLower packed{A};
  const Eigen::Index P = packed.size();
  const bool parallel = lowrank_batch_parallel(A, B, batched);
  if (parallel) {
    // ∂/∂Σ of every sample at once, packed (G(j, j), 2G(i, j)) in the factors' layout: Gpᵀ (ld × P),
    // sample b of entry e at (b, e), so the K products below read it in place.
    const BatchFactors<Scalar> F(A, B, n.aux);
    Scalar* gd = nullptr;
    bool add_d = false;
    if (!entropy && t.needs_grad(d_id)) {
      const Node<Scalar>& dn = t.node(d_id);
      gd = dn.grad;
      add_d = dn.external_grad || dn.grad_written;
    }
    Scalar* inverse = t.scratch(static_cast<std::size_t>(P * F.ld));
    MatrixMap<Scalar> GpT(t.scratch(static_cast<std::size_t>(P * F.ld)), F.ld, P);
    const Scalar* g = n.grad;
    Scalar* h = nullptr;
    if (both) {  // rows 0 and 1 of the 2 × B gradient, each contiguous
      Scalar* split = t.scratch(static_cast<std::size_t>(2 * F.ld));
      h = split + F.ld;
      for (Eigen::Index b = 0; b < B; ++b) {
        split[b] = n.grad[2 * b];
        h[b] = n.grad[2 * b + 1];
      }
      g = split;
    }
    batch_gaussian_backward<Scalar>(F, g, want_w || want_v ? GpT.data() : nullptr, F.ld, 1, false, gd, add_d, inverse,
                                    entropy, h);
    if (want_w || want_v) lowrank_batch_products_backward<Scalar>(t, n, W, v, F, GpT, dW);
    if (!entropy && t.needs_grad(d_id)) t.node(d_id).grad_written = true;
    if (want_v) t.node(v_id).grad_written = true;
    if (want_w) t.accumulate(w_id, dW);
    return;
  }
  // Batched: packed α²G_b (off-diagonals doubled: Σ's (i, j) and (j, i) are one packed entry).
  MatrixMap<Scalar> Gp(batched ? t.scratch(static_cast<std::size_t>(P * B)) : work, P, batched ? B : 0);
  for (Eigen::Index b = 0; b < B; ++b) {
    const Scalar g = n.grad[both ? 2 * b : b];
    const ConstMatrixMap<Scalar> chol(layout.factor(n.aux, b), A, A);
    const ConstMatrixMap<Scalar> y(layout.solved(n.aux, b), A, 1);  // Σ⁻¹ d
    covariance_gradient<Scalar>(chol, y, g, entropy, inv, G, outer, both, both ? n.grad[2 * b + 1] : Scalar(0));
    if (!entropy && t.needs_grad(d_id)) solved_gradient_column<Scalar>(t, d_id, b, g, y);
    if (!want_w && !want_v) continue;
    if (batched) {
      for (Eigen::Index j = 0; j < A; ++j) {
        auto column = Gp.col(b).segment(packed.column(j), A - j);
        column = (Scalar(2) * alpha * alpha) * G.col(j).tail(A - j);
        column(0) *= Scalar(0.5);
      }
      if (want_v) {
        Node<Scalar>& vn = t.node(v_id);
        MatrixMap<Scalar> gv(vn.grad, vn.rows, vn.cols);
        if (vn.external_grad || vn.grad_written)
          gv.col(b).head(A) += G.diagonal();
        else
          gv.col(b).head(A) = G.diagonal();
      }
      continue;
    }
    GW.noalias() = G * W;
    const Eigen::Index c = v.cols() == 1 ? 0 : b;
    if (want_w) dW.noalias() += (Scalar(2) * alpha * alpha) * GW * v.col(c).segment(A, L).asDiagonal();
    if (want_v) {
      dv.col(0).head(A) = G.diagonal();
      dv.col(0).segment(A, L) = (alpha * alpha) * (W.array() * GW.array()).colwise().sum().transpose();
      if (v.cols() == 1) {
        t.accumulate(v_id, dv);  // shared by the batch: contributions add up
      } else {
        Node<Scalar>& vn = t.node(v_id);
        MatrixMap<Scalar> gv(vn.grad, vn.rows, vn.cols);
        if (vn.external_grad || vn.grad_written)
          gv.col(b) += dv.col(0);
        else
          gv.col(b) = dv.col(0);
      }
    }
  }
  if (batched && (want_w || want_v)) {
    // K again (cheaper than keeping it): ∂/∂V_x = K Gp, and ∂/∂W from H = V_x Gpᵀ (L × P).
    MatrixMap<Scalar> w_t(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * A))), L, A);
    MatrixMap<Scalar> K(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * P))), L, P);
    khatri_rao_lower<Scalar>(W, w_t, K);
    if (want_v) {
      Node<Scalar>& vn = t.node(v_id);
      MatrixMap<Scalar> gv(vn.grad, vn.rows, vn.cols);
      product_into(gv.bottomRows(L), vn.external_grad || vn.grad_written, K, Gp);
    }
    if (want_w) {
      MatrixMap<Scalar> H(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * P))), L, P);
      product_into(H, false, v.bottomRows(L), Gp.transpose());
      MatrixMap<Scalar> dW_t(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * A))), L, A);
      khatri_rao_lower_backward<Scalar>(H, w_t, dW_t);
      dW = dW_t.transpose();
    }
  }
  // The per-column writes above must mark the node only after every column is written.
  if (!entropy && t.needs_grad(d_id)) t.node(d_id).grad_written = true;
  if (want_v && v.cols() != 1) t.node(v_id).grad_written = true;
  if (want_w) t.accumulate(w_id, dW);
}

// entropy: the entropies (1 × B); both: the log-probs and the entropies (2 × B); else the log-probs.
template <class Scalar>
Var<Scalar> lowrank_gaussian(Var<Scalar> d, Var<Scalar> W, Var<Scalar> v, Scalar alpha, bool entropy, bool both = false) {
  const char* where = entropy ? "lowrank_gaussian_entropy"
                      : both  ? "lowrank_gaussian_log_prob_and_entropy"
                              : "lowrank_gaussian_log_prob";
  const Eigen::Index A = W.rows(), L = W.cols();
  if (v.rows() != A + L) throw_shape_error(where, "v = [action variances; latent variances]", A + L, entropy ? v.cols() : d.cols(), v.rows(), v.cols());
  const Eigen::Index B = entropy ? v.cols() : d.cols();
  if (!entropy) {
    if (d.rows() != A) throw_shape_error(where, "d = x − mean", A, d.cols(), d.rows(), d.cols());
    if (v.cols() != B && v.cols() != 1) throw_shape_error(where, "v", A + L, B, v.rows(), v.cols());
  }
  Tape<Scalar>& t = *W.tape;
  const bool needs = (!entropy && t.needs_grad(d.id)) || t.needs_grad(W.id) || t.needs_grad(v.id);
  const int id = t.push(both ? 2 : 1, B, needs);
  const LowRankLayout<Scalar> layout{A, B};
  const bool batched = v.cols() == B && B >= lowrank_batched_from;
  const bool parallel = lowrank_batch_parallel(A, B, batched);
  // Batch-parallel: the factors, then K (L × P) for the backward.
  Scalar* aux = t.scratch(parallel ? static_cast<std::size_t>(BatchFactors<Scalar>::size(A, B) +
                                                              padded<Scalar>(L * A * (A + 1) / 2))
                                   : layout.size());
  Scalar* scaled = t.scratch(static_cast<std::size_t>(A * L));
  Node<Scalar>& n = t.node(id);
  n.aux = aux;
  n.param[0] = alpha;
  n.tag = entropy ? 1 : both ? 2 : 0;
  if (entropy) {
    n.input[0] = W.id;
    n.input[1] = v.id;
  } else {
    n.input[0] = d.id;
    n.input[1] = W.id;
    n.input[2] = v.id;
  }
  if (n.requires_grad) n.backward = &lowrank_backward<Scalar>;
  const auto Wv = t.value(W.id);
  const auto vv = t.value(v.id);
  check_finite(vv, where, "v (variances)");
  auto out = t.value(id);
  const PackedLower packed{A};
  const Scalar alpha2 = alpha * alpha;
  if (parallel) {  // Σp = α² Kᵀ V_x + diag(v_a) of every sample, straight into the factors' layout, then factored
    const BatchFactors<Scalar> F(A, B, aux);
    const Eigen::Index P = packed.size();
    MatrixMap<Scalar> w_t(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * A))), L, A);
    MatrixMap<Scalar> K(aux + BatchFactors<Scalar>::size(A, B), L, P);
    khatri_rao_lower<Scalar>(Wv, w_t, K);
    MatrixMap<Scalar> vt(t.scratch(static_cast<std::size_t>(F.ld * L)), F.ld, L);  // V_xᵀ, zero rows up to ld
    vt.topRows(B) = vv.bottomRows(L).transpose();
    vt.bottomRows(F.ld - B).setZero();
    MatrixMap<Scalar> St(F.factor, F.ld, P);  // Σpᵀ: sample b of entry e at (b, e)
    k_product<Scalar>(false, F.ld, P, L, vt.data(), F.ld, K.data(), 1, L, St.data(), F.ld,
                      [&] { product_into(St, false, vt, K); });
    St.topRows(B) *= alpha2;
    for (Eigen::Index j = 0; j < A; ++j) St.col(packed.column(j)).head(B) += vv.row(j).head(B).transpose();
    Scalar* work = t.scratch(static_cast<std::size_t>((both ? 4 : 2) * padded<Scalar>(B)));  // + log-probs, entropies
    if (!both) {
      batch_gaussian_factor<Scalar>(entropy ? nullptr : t.value(d.id).data(), F, out.data(), work, entropy, where);
      return {&t, id};
    }
    Scalar* logp = work + 2 * padded<Scalar>(B);
    Scalar* h = logp + padded<Scalar>(B);
    batch_gaussian_factor<Scalar>(t.value(d.id).data(), F, logp, work, false, where, h);
    for (Eigen::Index b = 0; b < B; ++b) {
      out(0, b) = logp[b];
      out(1, b) = h[b];
    }
    return {&t, id};
  }
  MatrixMap<Scalar> Sp(batched ? t.scratch(static_cast<std::size_t>(packed.size() * B)) : scaled, packed.size(), batched ? B : 0);
  if (batched) {  // every sample's packed Σ at once: Sp = Kᵀ V_x (α² applied when unpacking)
    MatrixMap<Scalar> w_t(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * A))), L, A);
    MatrixMap<Scalar> K(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * packed.size()))), L, packed.size());
    khatri_rao_lower<Scalar>(Wv, w_t, K);
    product_into(Sp, false, K.transpose(), vv.bottomRows(L));
  }
  for (Eigen::Index b = 0; b < B; ++b) {
    MatrixMap<Scalar> chol(layout.factor(aux, b), A, A);
    if (batched) {
      for (Eigen::Index j = 0; j < A; ++j) chol.col(j).tail(A - j) = alpha2 * Sp.col(b).segment(packed.column(j), A - j);
      chol.diagonal() += vv.col(b).head(A);
    } else {
      lowrank_covariance<Scalar>(Wv, vv, b, alpha, chol, MatrixMap<Scalar>(scaled, A, L));
    }
    MatrixMap<Scalar> y(layout.solved(aux, b), A, 1);
    if (!entropy) y = t.value(d.id).col(b);
    out(0, b) = gaussian_from_covariance<Scalar>(chol, y, entropy, b, where, both ? &out(1, b) : nullptr);
  }
  return {&t, id};
}

}  // namespace detail

/// Σ_b = α² W diag(v_x,b) Wᵀ + diag(v_a,b) as a full A × A matrix (logging, tests).
template <class S, class WT, class VT>
Matrix<S> lowrank_covariance_matrix(const WT& W, const VT& v, Eigen::Index b, S alpha) {
  Matrix<S> sigma(W.rows(), W.rows()), scaled(W.rows(), W.cols());
  detail::lowrank_covariance<S>(W, v, b, alpha, sigma, scaled);
  return sigma.template selfadjointView<Eigen::Lower>();
}

/// expln(x): exp(x) for x ≤ 0, log1p(x + eps) + 1 for x > 0 (SB3's use_expln).
template <class S>
Var<S> expln(Var<S> x, std::type_identity_t<S> eps = S(1e-6)) {
  return detail::unary<detail::ExplnOp>(x, eps);
}

/// log N(mean + d; mean, Σ) with Σ_b = α² W diag(v_x,b) Wᵀ + diag(v_a,b); d A × B, W A × L,
/// v (A+L) × B or (A+L) × 1 stacking [v_a; v_x]. Result 1 × B. Throws not_positive_definite_error.
template <class S>
Var<S> lowrank_gaussian_log_prob(Var<S> d, Var<S> W, Var<S> v, std::type_identity_t<S> alpha = S(1)) {
  return detail::lowrank_gaussian(d, W, v, S(alpha), false);
}

/// Entropy of N(·, Σ_b) for each column b of v. Result 1 × v.cols().
template <class S>
Var<S> lowrank_gaussian_entropy(Var<S> W, Var<S> v, std::type_identity_t<S> alpha = S(1)) {
  return detail::lowrank_gaussian(W, W, v, S(alpha), true);
}

/// Whether a batch of B samples with A actions (one covariance per sample) is better served by
/// lowrank_gaussian_log_prob_and_entropy than by the two calls: on the batch-parallel route (factors
/// of 17–64). Smaller factors keep the two nodes, with whose rounding the muscle-arm, MyoElbow and
/// MyoFinger results were measured (there the covariance work is a small part of a step).
inline bool lowrank_prefers_joint(Eigen::Index A, Eigen::Index B) noexcept {
  return detail::lowrank_batch_parallel(A, B, B >= detail::lowrank_batched_from);
}

/// Both of the above from one factorisation per sample, as one node: row 0 the log-probs, row 1 the
/// entropies (2 × B, the same values as the two calls), with one backward for both: ∂/∂Σ =
/// ½g(Σ⁻¹ddᵀΣ⁻¹ − Σ⁻¹) + ½hΣ⁻¹ for upstream gradients g (log-prob) and h (entropy). PPO's loss needs
/// both for the same latent; at MyoHand's size this halves the covariance work of a gradient step.
template <class S>
Var<S> lowrank_gaussian_log_prob_and_entropy(Var<S> d, Var<S> W, Var<S> v, std::type_identity_t<S> alpha = S(1)) {
  return detail::lowrank_gaussian(d, W, v, S(alpha), false, true);
}

}  // namespace spindle::autodiff
