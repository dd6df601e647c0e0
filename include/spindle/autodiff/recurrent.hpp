#pragma once
/// @file
/// The elementwise halves of LSTM and GRU cells, fused into one tape node each, with PyTorch's
/// gate layout and equations (so weights map one to one onto torch.nn.LSTM / torch.nn.GRU):
///
///   LSTM: gates = W_ih x + b_ih + W_hh h + b_hh, rows (i, f, g, o)
///         c' = σ(f)·c + σ(i)·tanh(g),  h' = σ(o)·tanh(c')
///   GRU:  xr, xz, xn = W_ih x + b_ih;  hr, hz, hn = W_hh h + b_hh
///         r = σ(xr + hr), z = σ(xz + hz), n = tanh(xn + r·hn),  h' = (1 − z)·n + z·h
///
/// The matrix products stay ordinary linear() nodes (one GEMM each, and the input products of
/// a whole sequence can be one GEMM); these ops replace the dozen small elementwise nodes a
/// cell would otherwise record, forward and backward.
#include <cmath>
#include <string>

#include "tape.hpp"

namespace spindle::autodiff {

namespace detail {

template <class Scalar>
Scalar logistic(Scalar x) noexcept {
  return Scalar(1) / (Scalar(1) + std::exp(-x));
}

// aux holds the activated gates (4H × B: σ(i), σ(f), tanh(g), σ(o)) and tanh(c') (H × B).
template <class Scalar>
void lstm_cell_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const Eigen::Index H = n.rows / 2, B = n.cols;
  const ConstMatrixMap<Scalar> grad(n.grad, n.rows, B);
  const ConstMatrixMap<Scalar> act(n.aux, 4 * H, B), tanh_c(n.aux + 4 * H * B, H, B);
  const ConstMatrixMap<Scalar> c_prev(t.node(n.input[1]).value, H, B);
  const bool want_gates = t.needs_grad(n.input[0]), want_c = t.needs_grad(n.input[1]);
  Scalar* d_gates = want_gates ? t.scratch(static_cast<std::size_t>(4 * H * B)) : nullptr;
  Scalar* d_c = want_c ? t.scratch(static_cast<std::size_t>(H * B)) : nullptr;
  for (Eigen::Index b = 0; b < B; ++b)
    for (Eigen::Index k = 0; k < H; ++k) {
      const Scalar i = act(k, b), f = act(H + k, b), g = act(2 * H + k, b), o = act(3 * H + k, b);
      const Scalar tc = tanh_c(k, b);
      const Scalar dh = grad(k, b);
      const Scalar dc = grad(H + k, b) + dh * o * (Scalar(1) - tc * tc);
      if (d_gates) {
        Scalar* col = d_gates + b * 4 * H;
        col[k] = dc * g * i * (Scalar(1) - i);
        col[H + k] = dc * c_prev(k, b) * f * (Scalar(1) - f);
        col[2 * H + k] = dc * i * (Scalar(1) - g * g);
        col[3 * H + k] = dh * tc * o * (Scalar(1) - o);
      }
      if (d_c) d_c[b * H + k] = dc * f;
    }
  if (d_gates) t.accumulate(n.input[0], ConstMatrixMap<Scalar>(d_gates, 4 * H, B));
  if (d_c) t.accumulate(n.input[1], ConstMatrixMap<Scalar>(d_c, H, B));
}

// aux holds r, z, n (3H × B).
template <class Scalar>
void gru_cell_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const Eigen::Index H = n.rows, B = n.cols;
  const ConstMatrixMap<Scalar> grad(n.grad, H, B);
  const ConstMatrixMap<Scalar> act(n.aux, 3 * H, B);
  const ConstMatrixMap<Scalar> hproj(t.node(n.input[1]).value, 3 * H, B);
  const ConstMatrixMap<Scalar> h_prev(t.node(n.input[2]).value, H, B);
  const bool want_x = t.needs_grad(n.input[0]), want_hp = t.needs_grad(n.input[1]), want_h = t.needs_grad(n.input[2]);
  Scalar* d_x = want_x ? t.scratch(static_cast<std::size_t>(3 * H * B)) : nullptr;
  Scalar* d_hp = want_hp ? t.scratch(static_cast<std::size_t>(3 * H * B)) : nullptr;
  Scalar* d_h = want_h ? t.scratch(static_cast<std::size_t>(H * B)) : nullptr;
  for (Eigen::Index b = 0; b < B; ++b)
    for (Eigen::Index k = 0; k < H; ++k) {
      const Scalar r = act(k, b), z = act(H + k, b), nn = act(2 * H + k, b);
      const Scalar dh = grad(k, b);
      const Scalar dn_pre = dh * (Scalar(1) - z) * (Scalar(1) - nn * nn);
      const Scalar dz_pre = dh * (h_prev(k, b) - nn) * z * (Scalar(1) - z);
      const Scalar dr_pre = dn_pre * hproj(2 * H + k, b) * r * (Scalar(1) - r);
      if (d_x) {
        Scalar* col = d_x + b * 3 * H;
        col[k] = dr_pre;
        col[H + k] = dz_pre;
        col[2 * H + k] = dn_pre;
      }
      if (d_hp) {
        Scalar* col = d_hp + b * 3 * H;
        col[k] = dr_pre;
        col[H + k] = dz_pre;
        col[2 * H + k] = dn_pre * r;
      }
      if (d_h) d_h[b * H + k] = dh * z;
    }
  if (d_x) t.accumulate(n.input[0], ConstMatrixMap<Scalar>(d_x, 3 * H, B));
  if (d_hp) t.accumulate(n.input[1], ConstMatrixMap<Scalar>(d_hp, 3 * H, B));
  if (d_h) t.accumulate(n.input[2], ConstMatrixMap<Scalar>(d_h, H, B));
}

}  // namespace detail

/// One LSTM step's elementwise part: `gates` (4H × B, pre-activations in PyTorch's order
/// i, f, g, o) and the previous cell state `c` (H × B) give [h'; c'] (2H × B) — take h' and
/// c' with slice_rows(·, 0, H) and slice_rows(·, H, H).
template <class Scalar>
Var<Scalar> lstm_cell(Var<Scalar> gates, Var<Scalar> c) {
  const Eigen::Index H = c.rows(), B = c.cols();
  if (gates.rows() != 4 * H || gates.cols() != B) throw_shape_error("lstm_cell", "gates", 4 * H, B, gates.rows(), gates.cols());
  Tape<Scalar>& t = *gates.tape;
  const bool grad = t.needs_grad(gates.id) || t.needs_grad(c.id);
  const int id = t.push(2 * H, B, grad);
  Node<Scalar>& n = t.node(id);
  n.input[0] = gates.id;
  n.input[1] = c.id;
  n.aux = grad && t.grad_enabled() ? t.scratch(static_cast<std::size_t>(5 * H * B)) : nullptr;
  if (n.requires_grad) n.backward = &detail::lstm_cell_backward<Scalar>;
  const auto g = t.value(gates.id);
  const auto c_prev = t.value(c.id);
  auto out = t.value(id);
  for (Eigen::Index b = 0; b < B; ++b)
    for (Eigen::Index k = 0; k < H; ++k) {
      const Scalar i = detail::logistic(g(k, b)), f = detail::logistic(g(H + k, b));
      const Scalar gg = std::tanh(g(2 * H + k, b)), o = detail::logistic(g(3 * H + k, b));
      const Scalar c_new = f * c_prev(k, b) + i * gg;
      const Scalar tc = std::tanh(c_new);
      out(k, b) = o * tc;
      out(H + k, b) = c_new;
      if (n.aux) {
        Scalar* col = n.aux + b * 4 * H;
        col[k] = i;
        col[H + k] = f;
        col[2 * H + k] = gg;
        col[3 * H + k] = o;
        n.aux[4 * H * B + b * H + k] = tc;
      }
    }
  return {&t, id};
}

/// One GRU step's elementwise part: the input projection `xproj` = W_ih x + b_ih and the hidden
/// projection `hproj` = W_hh h + b_hh (both 3H × B, PyTorch's order r, z, n) and the previous
/// hidden state `h` (H × B) give h' (H × B).
template <class Scalar>
Var<Scalar> gru_cell(Var<Scalar> xproj, Var<Scalar> hproj, Var<Scalar> h) {
  const Eigen::Index H = h.rows(), B = h.cols();
  if (xproj.rows() != 3 * H || xproj.cols() != B) throw_shape_error("gru_cell", "xproj", 3 * H, B, xproj.rows(), xproj.cols());
  if (hproj.rows() != 3 * H || hproj.cols() != B) throw_shape_error("gru_cell", "hproj", 3 * H, B, hproj.rows(), hproj.cols());
  Tape<Scalar>& t = *h.tape;
  const bool grad = t.needs_grad(xproj.id) || t.needs_grad(hproj.id) || t.needs_grad(h.id);
  const int id = t.push(H, B, grad);
  Node<Scalar>& n = t.node(id);
  n.input[0] = xproj.id;
  n.input[1] = hproj.id;
  n.input[2] = h.id;
  n.aux = grad && t.grad_enabled() ? t.scratch(static_cast<std::size_t>(3 * H * B)) : nullptr;
  if (n.requires_grad) n.backward = &detail::gru_cell_backward<Scalar>;
  const auto x = t.value(xproj.id);
  const auto hp = t.value(hproj.id);
  const auto h_prev = t.value(h.id);
  auto out = t.value(id);
  for (Eigen::Index b = 0; b < B; ++b)
    for (Eigen::Index k = 0; k < H; ++k) {
      const Scalar r = detail::logistic(x(k, b) + hp(k, b));
      const Scalar z = detail::logistic(x(H + k, b) + hp(H + k, b));
      const Scalar nn = std::tanh(x(2 * H + k, b) + r * hp(2 * H + k, b));
      out(k, b) = (Scalar(1) - z) * nn + z * h_prev(k, b);
      if (n.aux) {
        Scalar* col = n.aux + b * 3 * H;
        col[k] = r;
        col[H + k] = z;
        col[2 * H + k] = nn;
      }
    }
  return {&t, id};
}

}  // namespace spindle::autodiff
