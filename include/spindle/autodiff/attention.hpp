#pragma once
// Attention over a set of channels, as DMAP pools its per-channel codes (../shared/specs/dmap.md).
//
// Each sample b has C channels; channel j carries a key k_j (one logit per query, Q rows) and a
// value v_j (E rows). Keys and values of a batch sit side by side, sample-major: K is
// Q × (C·B) and V is E × (C·B), sample b's channels in columns [C·b, C·(b+1)).
//   channel_softmax: α(i, j) = exp k_j[i] / Σ_j' exp k_j'[i] — per query, over the channels.
//   attention_pool:  e_i = Σ_j α(i, j) v_j, stacked query-major: (Q·E) × B, row i·E + k.
#include <cmath>

#include "tape.hpp"

namespace spindle::autodiff {

/// Where query i's logit for channel j is read from in a sample's Q × C block of keys.
enum class KeyLayout {
  transpose,  // K(i, j): the paper's meaning
  reshape,    // the released DMAP code: the (C, Q) keys reshaped (not transposed) to (Q, C), so
              // query i reads the block's flat (channel-major) logits [i·C, (i+1)·C)
};

namespace detail {

// Offset of logit (i, j) inside one sample's Q × C column-major block of keys.
inline Eigen::Index key_offset(KeyLayout layout, Eigen::Index i, Eigen::Index j, Eigen::Index Q,
                               Eigen::Index C) noexcept {
  return layout == KeyLayout::transpose ? j * Q + i : i * C + j;
}

template <class Scalar>
void channel_softmax_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  if (!t.needs_grad(n.input[0])) return;
  const Eigen::Index Q = n.rows, C = n.index[0], B = n.cols / C;
  const auto layout = static_cast<KeyLayout>(n.tag);
  Node<Scalar>& kn = t.node(n.input[0]);
  MatrixMap<Scalar> dK(kn.grad, kn.rows, kn.cols);
  const bool add = kn.external_grad || kn.grad_written;
  const ConstMatrixMap<Scalar> A(n.value, n.rows, n.cols), G(n.grad, n.rows, n.cols);
  for (Eigen::Index b = 0; b < B; ++b) {
    Scalar* dk = dK.data() + b * C * Q;
    for (Eigen::Index i = 0; i < Q; ++i) {
      Scalar dot(0);  // Σ_j α g: the softmax Jacobian is diag(α) − α αᵀ
      for (Eigen::Index j = 0; j < C; ++j) dot += A(i, b * C + j) * G(i, b * C + j);
      for (Eigen::Index j = 0; j < C; ++j) {
        const Scalar d = A(i, b * C + j) * (G(i, b * C + j) - dot);
        Scalar& out = dk[key_offset(layout, i, j, Q, C)];
        out = add ? out + d : d;
      }
    }
  }
  kn.grad_written = true;
}

template <class Scalar>
void attention_pool_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const int a = n.input[0], v = n.input[1];
  const Eigen::Index C = n.index[0], B = n.cols, E = t.node(v).rows, Q = t.node(a).rows;
  const auto A = t.value(a);
  const auto V = t.value(v);
  for (const int id : {a, v}) {
    if (!t.needs_grad(id)) continue;
    Node<Scalar>& in = t.node(id);
    MatrixMap<Scalar> d(in.grad, in.rows, in.cols);
    const bool add = in.external_grad || in.grad_written;
    for (Eigen::Index b = 0; b < B; ++b) {
      const Eigen::Map<const Matrix<Scalar>> Gb(n.grad + b * n.rows, E, Q);  // ∂e, E × Q for sample b
      auto db = d.middleCols(b * C, C);
      if (id == a) {  // ∂α_b = ∂E_bᵀ V_b
        if (add) db.noalias() += Gb.transpose() * V.middleCols(b * C, C);
        else db.noalias() = Gb.transpose() * V.middleCols(b * C, C);
      } else {  // ∂V_b = ∂E_b α_b
        if (add) db.noalias() += Gb * A.middleCols(b * C, C);
        else db.noalias() = Gb * A.middleCols(b * C, C);
      }
    }
    in.grad_written = true;
  }
}

}  // namespace detail

/// α: per sample and query, the softmax over the sample's C channels of its keys (Q × (C·B)
/// in, Q × (C·B) out, every query's weights of a sample summing to 1).
template <class S>
Var<S> channel_softmax(Var<S> keys, Eigen::Index channels, KeyLayout layout = KeyLayout::transpose) {
  if (channels <= 0 || keys.cols() % channels != 0)
    throw shape_error("channel_softmax: " + std::to_string(keys.cols()) + " key columns are not whole samples of " +
                      std::to_string(channels) + " channels");
  Tape<S>& t = *keys.tape;
  const Eigen::Index Q = keys.rows(), C = channels, B = keys.cols() / channels;
  const int id = t.push(Q, keys.cols(), t.needs_grad(keys.id));
  Node<S>& n = t.node(id);
  n.input[0] = keys.id;
  n.index[0] = C;
  n.tag = static_cast<int>(layout);
  if (n.requires_grad) n.backward = &detail::channel_softmax_backward<S>;
  auto A = t.value(id);
  const S* k = t.node(keys.id).value;
  for (Eigen::Index b = 0; b < B; ++b) {
    const S* kb = k + b * C * Q;
    for (Eigen::Index i = 0; i < Q; ++i) {
      S top = kb[detail::key_offset(layout, i, 0, Q, C)];
      for (Eigen::Index j = 1; j < C; ++j) top = std::max(top, kb[detail::key_offset(layout, i, j, Q, C)]);
      S sum(0);
      for (Eigen::Index j = 0; j < C; ++j) sum += A(i, b * C + j) = std::exp(kb[detail::key_offset(layout, i, j, Q, C)] - top);
      const S inv = S(1) / sum;
      for (Eigen::Index j = 0; j < C; ++j) A(i, b * C + j) *= inv;
    }
  }
  return {&t, id};
}

/// e_i = Σ_j α(i, j) v_j per sample: weights Q × (C·B), values E × (C·B) → (Q·E) × B,
/// query-major (row i·E + k).
template <class S>
Var<S> attention_pool(Var<S> weights, Var<S> values, Eigen::Index channels) {
  if (channels <= 0 || weights.cols() % channels != 0)
    throw shape_error("attention_pool: " + std::to_string(weights.cols()) + " weight columns are not whole samples of " +
                      std::to_string(channels) + " channels");
  if (values.cols() != weights.cols())
    throw shape_error("attention_pool: values have " + std::to_string(values.cols()) + " columns, the weights " +
                      std::to_string(weights.cols()) + " (one per channel of every sample)");
  Tape<S>& t = *weights.tape;
  const Eigen::Index Q = weights.rows(), E = values.rows(), C = channels, B = weights.cols() / C;
  const int id = t.push(Q * E, B, t.needs_grad(weights.id) || t.needs_grad(values.id));
  Node<S>& n = t.node(id);
  n.input[0] = weights.id;
  n.input[1] = values.id;
  n.index[0] = C;
  if (n.requires_grad) n.backward = &detail::attention_pool_backward<S>;
  const auto A = t.value(weights.id);
  const auto V = t.value(values.id);
  S* y = t.node(id).value;
  for (Eigen::Index b = 0; b < B; ++b) {  // E_b (E × Q) = V_b α_bᵀ: column i is query i's embedding
    Eigen::Map<Matrix<S>> Eb(y + b * Q * E, E, Q);  // unaligned: Q·E may be odd
    Eb.noalias() = V.middleCols(b * C, C) * A.middleCols(b * C, C).transpose();
  }
  return {&t, id};
}

}  // namespace spindle::autodiff
