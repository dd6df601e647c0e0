#pragma once
// Full-covariance Gaussians whose covariances arrive as packed lower triangles, and Lattice's
// covariance built in that form straight from the latent:
//
//   packed_gaussian_log_prob(d, Σp)   log N(mean + d; mean, Σ_b); Σp is P × B, P = A(A + 1)/2
//   packed_gaussian_entropy(Σp)       ½ ln det(2πe Σ_b)
//   lattice_packed_covariance(W, S2, Z2, α, r)
//       Σ_b = α² W diag(C²ᵀz²_b) Wᵀ + diag(D²ᵀz²_b + r), S2 = [C² | D²] (L × (L + A)), Z2 = z² (L × B)
//
// Why: Σ_b's packed lower triangle is linear in z²_b. With K the L × P Khatri–Rao columns wᵢ ∘ wⱼ
// of W (i ≥ j) and N = α² C² K plus D²'s columns on the diagonal entries (L × P, once per batch),
// Σp = Nᵀ Z2 (+ r on the diagonal). Going through the latent variances C²ᵀz² instead costs an
// (L + A) × L product per sample: for the muscle arm's PPO minibatch (L 128, A 6, P 21, B 256) 4.4M
// multiply-adds against N's 0.34M, forward and again backward. lattice_prefers_packed says when.
//
// A packed entry (i, j), i > j, stands for Σ(i, j) and Σ(j, i): its gradient is twice ∂/∂Σ(i, j).
#include "gaussian.hpp"

namespace spindle::autodiff {

/// True when building N (L²P) costs less than the per-sample latent variances ((L + A)·L·B).
constexpr bool lattice_prefers_packed(Eigen::Index L, Eigen::Index A, Eigen::Index B) noexcept {
  return L * (A * (A + 1) / 2) < (L + A) * B;
}

namespace detail {

/// The A of a packed size P = A(A + 1)/2 (0 when P is not of that form).
inline Eigen::Index packed_order(Eigen::Index P) noexcept {
  Eigen::Index A = static_cast<Eigen::Index>((std::sqrt(8.0 * double(P) + 1.0) - 1.0) / 2.0);
  while (A * (A + 1) / 2 < P) ++A;
  return A * (A + 1) / 2 == P ? A : 0;
}

// tag 0: log-prob (inputs d, Σp); tag 1: entropy (input Σp).
template <class Scalar>
void packed_gaussian_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const bool entropy = n.tag == 1;
  const int d_id = entropy ? -1 : n.input[0], s_id = n.input[entropy ? 0 : 1];
  const Eigen::Index P = t.node(s_id).rows, A = packed_order(P), B = n.cols;
  if (batch_factors_apply(A, B)) {
    const BatchFactors<Scalar> F(A, B, n.aux);
    Node<Scalar>& sn = t.node(s_id);
    Scalar* gd = nullptr;
    bool add_d = false;
    if (!entropy && t.needs_grad(d_id)) {
      Node<Scalar>& dn = t.node(d_id);
      gd = dn.grad;
      add_d = dn.external_grad || dn.grad_written;
      dn.grad_written = true;
    }
    const bool want_s = t.needs_grad(s_id);
    if (!want_s && !gd) return;
    Scalar* inverse = t.scratch(static_cast<std::size_t>(P * F.ld));
    Scalar* gs = want_s ? sn.grad : nullptr;
    batch_gaussian_backward<Scalar>(F, n.grad, gs, 1, P, want_s && (sn.external_grad || sn.grad_written), gd, add_d, inverse,
                                    entropy);
    if (want_s) sn.grad_written = true;
    return;
  }
  const LowRankLayout<Scalar> layout{A, B};
  const Eigen::Index sq = padded<Scalar>(A * A);
  Scalar* work = t.scratch(static_cast<std::size_t>(3 * sq));
  MatrixMap<Scalar> inv(work, A, A), G(work + sq, A, A), outer(work + 2 * sq, A, A);
  const bool want_d = !entropy && t.needs_grad(d_id), want_s = t.needs_grad(s_id);
  Node<Scalar>& sn = t.node(s_id);
  MatrixMap<Scalar> gs(sn.grad, sn.rows, sn.cols);
  const bool add = sn.external_grad || sn.grad_written;
  const PackedLower packed{A};
  for (Eigen::Index b = 0; b < B; ++b) {
    const Scalar g = n.grad[b];
    const ConstMatrixMap<Scalar> chol(layout.factor(n.aux, b), A, A);
    const ConstMatrixMap<Scalar> y(layout.solved(n.aux, b), A, 1);
    covariance_gradient<Scalar>(chol, y, g, entropy, inv, G, outer);
    if (want_d) solved_gradient_column<Scalar>(t, d_id, b, g, y);
    if (!want_s) continue;
    for (Eigen::Index j = 0; j < A; ++j) {
      auto column = gs.col(b).segment(packed.column(j), A - j);
      if (add) {
        column += Scalar(2) * G.col(j).tail(A - j);
        column(0) -= G(j, j);
      } else {
        column = Scalar(2) * G.col(j).tail(A - j);
        column(0) = G(j, j);
      }
    }
  }
  if (want_d) t.node(d_id).grad_written = true;
  if (want_s) sn.grad_written = true;
}

template <class Scalar>
Var<Scalar> packed_gaussian(Var<Scalar> d, Var<Scalar> sigma, bool entropy) {
  const char* where = entropy ? "packed_gaussian_entropy" : "packed_gaussian_log_prob";
  const Eigen::Index P = sigma.rows(), A = packed_order(P), B = sigma.cols();
  if (A == 0)
    throw shape_error(std::string(where) + ": the packed covariance has " + std::to_string(P) +
                      " rows, not A(A + 1)/2 for any action size A");
  if (!entropy && (d.rows() != A || d.cols() != B)) throw_shape_error(where, "d = x − mean", A, B, d.rows(), d.cols());
  Tape<Scalar>& t = *sigma.tape;
  const bool needs = (!entropy && t.needs_grad(d.id)) || t.needs_grad(sigma.id);
  const int id = t.push(1, B, needs);
  const LowRankLayout<Scalar> layout{A, B};
  const bool small = batch_factors_apply(A, B);
  Scalar* aux = t.scratch(small ? static_cast<std::size_t>(BatchFactors<Scalar>::size(A, B)) : layout.size());
  Node<Scalar>& n = t.node(id);
  n.aux = aux;
  n.tag = entropy ? 1 : 0;
  n.input[0] = entropy ? sigma.id : d.id;
  if (!entropy) n.input[1] = sigma.id;
  if (n.requires_grad) n.backward = &packed_gaussian_backward<Scalar>;
  const auto Sp = t.value(sigma.id);
  check_finite(Sp, where, "the packed covariance");
  auto out = t.value(id);
  if (small) {
    Scalar* work = t.scratch(static_cast<std::size_t>(2 * padded<Scalar>(B)));
    batch_gaussian_forward<Scalar>(Sp, entropy ? nullptr : t.value(d.id).data(), BatchFactors<Scalar>(A, B, aux), out.data(),
                                   work, entropy, where);
    return {&t, id};
  }
  const PackedLower packed{A};
  for (Eigen::Index b = 0; b < B; ++b) {
    MatrixMap<Scalar> chol(layout.factor(aux, b), A, A);
    for (Eigen::Index j = 0; j < A; ++j) chol.col(j).tail(A - j) = Sp.col(b).segment(packed.column(j), A - j);
    MatrixMap<Scalar> y(layout.solved(aux, b), A, 1);
    if (!entropy) y = t.value(d.id).col(b);
    out(0, b) = gaussian_from_covariance<Scalar>(chol, y, entropy, b, where);
  }
  return {&t, id};
}

// The covariance's aux holds N and α²K (L × P each) for the backward.
template <class Scalar>
void lattice_packed_covariance_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const int w_id = n.input[0], s_id = n.input[1], z_id = n.input[2];
  const auto W = t.value(w_id);
  const auto S2 = t.value(s_id);
  const auto Z2 = t.value(z_id);
  const Eigen::Index A = W.rows(), L = W.cols(), P = n.rows;
  const PackedLower packed{A};
  const ConstMatrixMap<Scalar> gp(n.grad, P, n.cols);
  const ConstMatrixMap<Scalar> N(n.aux, L, P), K(n.aux + padded<Scalar>(L * P), L, P);  // K here is α²K
  if (t.needs_grad(z_id)) t.accumulate_product(z_id, N * gp);
  const bool want_w = t.needs_grad(w_id), want_s = t.needs_grad(s_id);
  if (!want_w && !want_s) return;
  MatrixMap<Scalar> dN(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * P))), L, P);
  product_into(dN, false, Z2, gp.transpose());
  if (want_s)
    t.accumulate_with(s_id, [&](MatrixMap<Scalar> out, bool acc) {
      product_into(out.leftCols(L), acc, dN, K.transpose());  // ∂/∂C² = ∂N (α²K)ᵀ
      for (Eigen::Index j = 0; j < A; ++j) {                  // ∂/∂D² column j: ∂N's column (j, j)
        if (acc)
          out.col(L + j) += dN.col(packed.column(j));
        else
          out.col(L + j) = dN.col(packed.column(j));
      }
    });
  if (want_w) {
    MatrixMap<Scalar> H(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * P))), L, P);  // ∂/∂K = α² C²ᵀ ∂N
    product_into(H, false, S2.leftCols(L).transpose(), dN);
    H *= n.param[0] * n.param[0];
    MatrixMap<Scalar> w_t(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * A))), L, A);
    MatrixMap<Scalar> dW_t(t.scratch(static_cast<std::size_t>(padded<Scalar>(L * A))), L, A);
    w_t = W.transpose();
    khatri_rao_lower_backward<Scalar>(H, w_t, dW_t);
    t.accumulate(w_id, dW_t.transpose());
  }
}

}  // namespace detail

/// log N(mean + d; mean, Σ_b), Σ_b given as packed lower triangles (column b of sigma: (0,0), (1,0), …,
/// (A−1,0), (1,1), …). d A × B, sigma A(A + 1)/2 × B. Result 1 × B. Throws not_positive_definite_error.
template <class S>
Var<S> packed_gaussian_log_prob(Var<S> d, Var<S> sigma) {
  return detail::packed_gaussian(d, sigma, false);
}

/// Entropy of N(·, Σ_b) for each column b of sigma (packed lower triangles). Result 1 × B.
template <class S>
Var<S> packed_gaussian_entropy(Var<S> sigma) {
  return detail::packed_gaussian(sigma, sigma, true);
}

/// Lattice's Σ_b = α² W diag(C²ᵀz²_b) Wᵀ + diag(D²ᵀz²_b + r) as packed lower triangles (A(A + 1)/2 × B):
/// W A × L (the action head), S2 = [C² | D²] L × (L + A) (the squared stds of P_x and P_a), Z2 L × B (the
/// squared latent), r = std_reg². The same Σ as lowrank_gaussian_* from v = [D²ᵀZ2 + r; C²ᵀZ2].
template <class S>
Var<S> lattice_packed_covariance(Var<S> W, Var<S> S2, Var<S> Z2, std::type_identity_t<S> alpha, std::type_identity_t<S> reg = S(0)) {
  const Eigen::Index A = W.rows(), L = W.cols(), B = Z2.cols();
  if (S2.rows() != L || S2.cols() != L + A)
    throw_shape_error("lattice_packed_covariance", "S2 = [C² | D²]", L, L + A, S2.rows(), S2.cols());
  if (Z2.rows() != L) throw_shape_error("lattice_packed_covariance", "Z2 = z²", L, B, Z2.rows(), Z2.cols());
  Tape<S>& t = *W.tape;
  const detail::PackedLower packed{A};
  const Eigen::Index P = packed.size();
  const int id = t.push(P, B, t.needs_grad(W.id) || t.needs_grad(S2.id) || t.needs_grad(Z2.id));
  S* aux = t.scratch(static_cast<std::size_t>(2 * detail::padded<S>(L * P)));
  Node<S>& n = t.node(id);
  n.aux = aux;
  n.input[0] = W.id;
  n.input[1] = S2.id;
  n.input[2] = Z2.id;
  n.param[0] = S(alpha);
  if (n.requires_grad) n.backward = &detail::lattice_packed_covariance_backward<S>;
  const auto S2v = t.value(S2.id);
  check_finite(S2v, "lattice_packed_covariance", "S2 (squared stds)");
  MatrixMap<S> N(aux, L, P), K(aux + detail::padded<S>(L * P), L, P);
  MatrixMap<S> w_t(t.scratch(static_cast<std::size_t>(detail::padded<S>(L * A))), L, A);
  detail::khatri_rao_lower<S>(t.value(W.id), w_t, K);
  K *= S(alpha) * S(alpha);
  detail::product_into(N, false, S2v.leftCols(L), K);
  for (Eigen::Index j = 0; j < A; ++j) N.col(packed.column(j)) += S2v.col(L + j);
  auto out = t.value(id);
  detail::product_into(out, false, N.transpose(), t.value(Z2.id));
  if (reg != S(0))
    for (Eigen::Index j = 0; j < A; ++j) out.row(packed.column(j)).array() += S(reg);
  return {&t, id};
}

}  // namespace spindle::autodiff
