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

#include "linalg.hpp"
#include "tape.hpp"

namespace spindle::autodiff {

// Blocks of scratch buffers start at any float offset: plain (unaligned) maps.
template <class Scalar>
using BlockMap = Eigen::Map<Matrix<Scalar>>;
template <class Scalar>
using ConstBlockMap = Eigen::Map<const Matrix<Scalar>>;

namespace detail {

// The per-step products of a sequence multiply W_hh (gates·H × H) with a few columns (the
// sequences of a minibatch): SmallGemm reads W in place there, and backward Wᵀ · dG is a dot
// product per coefficient over W's columns, also in place (SmallGemm::run_transposed_a).
// C (R × B, leading dimension R) += W (R × H) · X (H × B).
template <class Scalar>
void step_product(Scalar* C, const ConstBlockMap<Scalar>& W, const Scalar* X, Eigen::Index B) {
  const Eigen::Index R = W.rows(), H = W.cols();
  if (SmallGemm<Scalar>::applies_narrow(R, B, H)) SmallGemm<Scalar>::template run<true>(R, B, H, W.data(), R, X, 1, H, C, R);
  else strided_gemm(C, R, W.data(), R, X, H, false, R, B, H, true);
}

// dst (H × B) (= or +=) Wᵀ · G (W: R × H, G: R × B).
template <class Scalar>
void transposed_step_product(BlockMap<Scalar>& dst, bool accumulate, const ConstBlockMap<Scalar>& W, const Scalar* G) {
  const Eigen::Index R = W.rows(), H = W.cols(), B = dst.cols();
  using Kernel = SmallGemm<Scalar>;
  if (!Kernel::applies_transposed_a(H, B, R)) product_into(dst, accumulate, W.transpose(), ConstBlockMap<Scalar>(G, R, B));
  else if (accumulate) Kernel::template run_transposed_a<true>(H, B, R, W.data(), R, G, R, dst.data(), H);
  else Kernel::template run_transposed_a<false>(H, B, R, W.data(), R, G, R, dst.data(), H);
}

template <class Scalar>
Scalar logistic(Scalar x) noexcept {
  return Scalar(1) / (Scalar(1) + std::exp(-x));
}

// One column of an LSTM step: gates g (4H pre-activations), incoming cell c → activated gates
// (act, 4H), c', tanh(c'), h'. Column by column, so that a value's bits do not depend on the
// batch it is computed in (acting with one environment and training on a batch agree).
template <class Scalar>
void lstm_column(Eigen::Index H, const Scalar* g, const Scalar* c, Scalar* act, Scalar* c_out, Scalar* tanh_out,
                 Scalar* h_out) noexcept {
  using Array = Eigen::Array<Scalar, Eigen::Dynamic, 1>;
  using In = Eigen::Map<const Array>;
  using Out = Eigen::Map<Array>;
  Out a(act, 4 * H);
  a.head(2 * H) = (Scalar(1) + (-In(g, 2 * H)).exp()).inverse();
  a.segment(2 * H, H) = In(g + 2 * H, H).tanh();
  a.tail(H) = (Scalar(1) + (-In(g + 3 * H, H)).exp()).inverse();
  Out cn(c_out, H), tc(tanh_out, H), h(h_out, H);
  cn = a.segment(H, H) * In(c, H) + a.head(H) * a.segment(2 * H, H);
  tc = cn.tanh();
  h = a.tail(H) * tc;
}

// Backward of one column: dh, dc (gradients of h', c'), the forward's act and tanh(c'), the
// incoming c → d gates (4H) and d c_in.
template <class Scalar>
void lstm_column_backward(Eigen::Index H, const Scalar* dh_p, const Scalar* dc_p, const Scalar* act, const Scalar* tanh_c,
                          const Scalar* c_in, Scalar* d_gates, Scalar* d_c) noexcept {
  using Array = Eigen::Array<Scalar, Eigen::Dynamic, 1>;
  using In = Eigen::Map<const Array>;
  const In dh(dh_p, H), a(act, 4 * H), tc(tanh_c, H), c(c_in, H);
  const auto i = a.head(H), f = a.segment(H, H), g = a.segment(2 * H, H), o = a.tail(H);
  Eigen::Map<Array> dg(d_gates, 4 * H);
  auto dc = dg.segment(H, H);  // the total dL/dc' is parked in the f slot, overwritten last
  dc = In(dc_p, H) + dh * o * (Scalar(1) - tc * tc);
  dg.head(H) = dc * g * i * (Scalar(1) - i);
  dg.segment(2 * H, H) = dc * i * (Scalar(1) - g * g);
  dg.tail(H) = dh * tc * o * (Scalar(1) - o);
  if (d_c) Eigen::Map<Array>(d_c, H) = dc * f;
  dc = dc * c * f * (Scalar(1) - f);
}

// aux holds the activated gates (4H × B: σ(i), σ(f), tanh(g), σ(o)) and tanh(c') (H × B).
template <class Scalar>
void lstm_cell_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const Eigen::Index H = n.rows / 2, B = n.cols;
  const Scalar* c_prev = t.node(n.input[1]).value;
  const bool want_gates = t.needs_grad(n.input[0]), want_c = t.needs_grad(n.input[1]);
  Scalar* d_gates = t.scratch(static_cast<std::size_t>(4 * H * B));
  Scalar* d_c = want_c ? t.scratch(static_cast<std::size_t>(H * B)) : nullptr;
  for (Eigen::Index b = 0; b < B; ++b)
    lstm_column_backward(H, n.grad + b * 2 * H, n.grad + b * 2 * H + H, n.aux + b * 4 * H, n.aux + 4 * H * B + b * H,
                         c_prev + b * H, d_gates + b * 4 * H, d_c ? d_c + b * H : nullptr);
  if (want_gates) t.accumulate(n.input[0], ConstBlockMap<Scalar>(d_gates, 4 * H, B));
  if (d_c) t.accumulate(n.input[1], ConstBlockMap<Scalar>(d_c, H, B));
}

// aux holds r, z, n (3H × B).
template <class Scalar>
void gru_cell_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const Eigen::Index H = n.rows, B = n.cols;
  const ConstBlockMap<Scalar> grad(n.grad, H, B);
  const ConstBlockMap<Scalar> act(n.aux, 3 * H, B);
  const ConstBlockMap<Scalar> hproj(t.node(n.input[1]).value, 3 * H, B);
  const ConstBlockMap<Scalar> h_prev(t.node(n.input[2]).value, H, B);
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
  if (d_x) t.accumulate(n.input[0], ConstBlockMap<Scalar>(d_x, 3 * H, B));
  if (d_hp) t.accumulate(n.input[1], ConstBlockMap<Scalar>(d_hp, 3 * H, B));
  if (d_h) t.accumulate(n.input[2], ConstBlockMap<Scalar>(d_h, H, B));
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
  // The activations are kept for backward; without gradients they go to a scratch column.
  n.aux = t.scratch(static_cast<std::size_t>(grad && t.grad_enabled() ? 5 * H * B : 5 * H));
  if (n.requires_grad) n.backward = &detail::lstm_cell_backward<Scalar>;
  const Scalar* g = t.node(gates.id).value;
  const Scalar* c_prev = t.node(c.id).value;
  Scalar* out = t.node(id).value;
  const bool keep = grad && t.grad_enabled();
  for (Eigen::Index b = 0; b < B; ++b) {
    Scalar* act = n.aux + (keep ? b * 4 * H : 0);
    Scalar* tanh_c = n.aux + (keep ? 4 * H * B + b * H : 4 * H);
    detail::lstm_column(H, g + b * 4 * H, c_prev + b * H, act, out + b * 2 * H + H, tanh_c, out + b * 2 * H);
  }
  return {&t, id};
}

namespace detail {

// Buffers of lstm_sequence kept from forward for backward, in one scratch block (aux):
// h_in, c_in (the masked incoming states, H × T·B each), act (4H × T·B), tanh(c') (H × T·B).
template <class Scalar>
void lstm_sequence_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const Eigen::Index H = n.rows, TB = n.cols, B = n.index[0], T = TB / B;
  const Scalar* h_in = n.aux;
  const Scalar* c_in = h_in + H * TB;
  const Scalar* act = c_in + H * TB;
  const Scalar* tanh_c = act + 4 * H * TB;
  const Scalar* masks = t.node(n.input[3]).value;
  const ConstBlockMap<Scalar> W(t.node(n.input[1]).value, 4 * H, H);
  Scalar* dG = t.scratch(static_cast<std::size_t>(4 * H * TB));
  Scalar* carry = t.scratch(static_cast<std::size_t>(4 * H * B));  // dh, dc into the next step's inputs; dh_in, dc_in
  BlockMap<Scalar> dh(carry, H, B), dc(carry + H * B, H, B), dh_in(carry + 2 * H * B, H, B), dc_in(carry + 3 * H * B, H, B);
  dh.setZero();
  dc.setZero();
  for (Eigen::Index s = T - 1; s >= 0; --s) {
    const Eigen::Index c0 = s * B;
    dh += ConstBlockMap<Scalar>(n.grad + c0 * H, H, B);
    for (Eigen::Index b = 0; b < B; ++b) {
      const Eigen::Index col = c0 + b;
      lstm_column_backward(H, dh.data() + b * H, dc.data() + b * H, act + col * 4 * H, tanh_c + col * H, c_in + col * H,
                           dG + col * 4 * H, dc_in.data() + b * H);
    }
    transposed_step_product(dh_in, false, W, dG + c0 * 4 * H);
    // The incoming state was masked: no gradient flows past an episode start.
    for (Eigen::Index b = 0; b < B; ++b) {
      const Scalar m = masks[c0 + b];
      dh.col(b) = dh_in.col(b) * m;
      dc.col(b) = dc_in.col(b) * m;
    }
  }
  const ConstBlockMap<Scalar> G(dG, 4 * H, TB);
  if (t.needs_grad(n.input[0])) t.accumulate(n.input[0], G);
  if (t.needs_grad(n.input[1]))
    t.accumulate_with(n.input[1], [&](auto g, bool acc) {
      product_into(g, acc, G, ConstBlockMap<Scalar>(h_in, H, TB).transpose());
    });
  if (t.needs_grad(n.input[2]))
    t.accumulate_with(n.input[2], [&](auto g, bool acc) {
      if (acc) {
        g.topRows(H) += dh;
        g.bottomRows(H) += dc;
      } else {
        g.topRows(H) = dh;
        g.bottomRows(H) = dc;
      }
    });
}

}  // namespace detail

/// A whole LSTM sequence as one node, backpropagation through time inside it:
/// `xproj` = W_ih x + b_ih + b_hh for every step (4H × T·B; step s in columns [s·B, (s+1)·B)),
/// `W_hh` (4H × H), the initial state `hc0` = [h0; c0] (2H × B), and `masks` (1 × T·B): where
/// it is 0 the incoming state of that column is zeroed (an episode starts there). Returns the
/// hidden state after every step, H × T·B (the last step's cell state: lstm_final_cell). One GEMM
/// per step forward and backward (read in place for a few sequences), and one for W_hh's gradient over the whole sequence.
template <class Scalar>
Var<Scalar> lstm_sequence(Var<Scalar> xproj, Var<Scalar> W_hh, Var<Scalar> hc0, Var<Scalar> masks) {
  const Eigen::Index H = W_hh.cols(), B = hc0.cols(), TB = xproj.cols();
  if (W_hh.rows() != 4 * H) throw_shape_error("lstm_sequence", "W_hh", 4 * H, H, W_hh.rows(), W_hh.cols());
  if (hc0.rows() != 2 * H) throw_shape_error("lstm_sequence", "hc0", 2 * H, B, hc0.rows(), hc0.cols());
  if (B == 0 || TB % B != 0 || xproj.rows() != 4 * H)
    throw_shape_error("lstm_sequence", "xproj (4H × T·B)", 4 * H, TB - TB % (B > 0 ? B : 1), xproj.rows(), xproj.cols());
  if (masks.rows() != 1 || masks.cols() != TB) throw_shape_error("lstm_sequence", "masks", 1, TB, masks.rows(), masks.cols());
  Tape<Scalar>& t = *xproj.tape;
  const bool grad = t.needs_grad(xproj.id) || t.needs_grad(W_hh.id) || t.needs_grad(hc0.id);
  const int id = t.push(H, TB, grad);
  Node<Scalar>& n = t.node(id);
  n.input[0] = xproj.id;
  n.input[1] = W_hh.id;
  n.input[2] = hc0.id;
  n.input[3] = masks.id;
  n.index[0] = B;
  n.aux = t.scratch(static_cast<std::size_t>(7 * H * TB + 5 * H * B));
  if (n.requires_grad) n.backward = &detail::lstm_sequence_backward<Scalar>;
  Scalar* h_in = n.aux;
  Scalar* c_in = h_in + H * TB;
  Scalar* act = c_in + H * TB;
  Scalar* tanh_c = act + 4 * H * TB;
  Scalar* gates = tanh_c + H * TB;  // 4H × B
  Scalar* out = t.node(id).value;
  const Scalar* x = t.node(xproj.id).value;
  const Scalar* m = t.node(masks.id).value;
  const ConstBlockMap<Scalar> W(t.node(W_hh.id).value, 4 * H, H);
  const ConstBlockMap<Scalar> start(t.node(hc0.id).value, 2 * H, B);
  const Eigen::Index T = TB / B;
  for (Eigen::Index s = 0; s < T; ++s) {
    const Eigen::Index c0 = s * B;
    for (Eigen::Index b = 0; b < B; ++b) {  // the incoming state, masked
      const Eigen::Index col = c0 + b;
      const Scalar mk = m[col];
      const Scalar* h = s == 0 ? start.data() + b * 2 * H : out + (col - B) * H;
      Scalar* ci = c_in + col * H;  // for s > 0 the previous step parked its c' here
      for (Eigen::Index k = 0; k < H; ++k) {
        h_in[col * H + k] = h[k] * mk;
        ci[k] = (s == 0 ? start(H + k, b) : ci[k]) * mk;
      }
    }
    BlockMap<Scalar>(gates, 4 * H, B) = ConstBlockMap<Scalar>(x + c0 * 4 * H, 4 * H, B);
    detail::step_product(gates, W, h_in + c0 * H, B);
    for (Eigen::Index b = 0; b < B; ++b) {
      const Eigen::Index col = c0 + b;
      // c' goes to the next step's c_in slot (masked there); the last step's to the final-cell slot.
      Scalar* c_next = s + 1 < T ? c_in + (col + B) * H : gates + 4 * H * B + b * H;
      detail::lstm_column(H, gates + b * 4 * H, c_in + col * H, act + col * 4 * H, c_next, tanh_c + col * H, out + col * H);
    }
  }
  return {&t, id};
}

/// The cell state after the last step of an lstm_sequence result (H × B; valid until the tape is
/// cleared): with the last step's hidden state, what carries the sequence on.
template <class Scalar>
ConstBlockMap<Scalar> lstm_final_cell(Var<Scalar> sequence) {
  const Node<Scalar>& n = sequence.tape->node(sequence.id);
  const Eigen::Index H = n.rows, TB = n.cols, B = n.index[0];
  return {n.aux + 7 * H * TB + 4 * H * B, H, B};
}

namespace detail {

// Buffers of gru_sequence kept for backward, in one scratch block (aux): masks (T·B), h_in
// (H × T·B, the masked incoming states), hp = W_hh h_in + b_hh (3H × T·B), act = r, z, n (3H × T·B).
template <class Scalar>
void gru_sequence_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  const Eigen::Index H = n.rows, TB = n.cols, B = n.index[0], T = TB / B;
  const Scalar* masks = n.aux;
  const Scalar* h_in = masks + TB;
  const Scalar* hp = h_in + H * TB;
  const Scalar* act = hp + 3 * H * TB;
  const ConstBlockMap<Scalar> W(t.node(n.input[1]).value, 3 * H, H);
  Scalar* dX = t.scratch(static_cast<std::size_t>(3 * H * TB));
  Scalar* dHP = t.scratch(static_cast<std::size_t>(3 * H * TB));
  Scalar* carry = t.scratch(static_cast<std::size_t>(2 * H * B));
  BlockMap<Scalar> dh(carry, H, B), dh_in(carry + H * B, H, B);
  dh.setZero();
  using Array = Eigen::Array<Scalar, Eigen::Dynamic, 1>;
  using In = Eigen::Map<const Array>;
  for (Eigen::Index s = T - 1; s >= 0; --s) {
    const Eigen::Index c0 = s * B;
    dh += ConstBlockMap<Scalar>(n.grad + c0 * H, H, B);
    for (Eigen::Index b = 0; b < B; ++b) {
      const Eigen::Index col = c0 + b;
      const In a(act + col * 3 * H, 3 * H), p(hp + col * 3 * H, 3 * H), hi(h_in + col * H, H), g(dh.data() + b * H, H);
      const auto r = a.head(H), z = a.segment(H, H), nn = a.tail(H);
      Eigen::Map<Array> dx(dX + col * 3 * H, 3 * H), dp(dHP + col * 3 * H, 3 * H);
      dx.tail(H) = g * (Scalar(1) - z) * (Scalar(1) - nn * nn);                 // d n_pre
      dx.segment(H, H) = g * (hi - nn) * z * (Scalar(1) - z);                     // d z_pre
      dx.head(H) = dx.tail(H) * p.tail(H) * r * (Scalar(1) - r);                  // d r_pre
      dp.head(2 * H) = dx.head(2 * H);
      dp.tail(H) = dx.tail(H) * r;
      Eigen::Map<Array>(dh_in.data() + b * H, H) = g * z;
    }
    transposed_step_product(dh_in, true, W, dHP + c0 * 3 * H);
    for (Eigen::Index b = 0; b < B; ++b) dh.col(b) = dh_in.col(b) * masks[c0 + b];
  }
  const ConstBlockMap<Scalar> GX(dX, 3 * H, TB), GP(dHP, 3 * H, TB);
  if (t.needs_grad(n.input[0])) t.accumulate(n.input[0], GX);
  if (t.needs_grad(n.input[1]))
    t.accumulate_with(n.input[1], [&](auto g, bool acc) {
      product_into(g, acc, GP, ConstBlockMap<Scalar>(h_in, H, TB).transpose());
    });
  if (t.needs_grad(n.input[2])) t.accumulate(n.input[2], GP.rowwise().sum());
  if (t.needs_grad(n.input[3])) t.accumulate(n.input[3], dh);
}

}  // namespace detail

/// A whole GRU sequence as one node, backpropagation through time inside it: `xproj` = W_ih x +
/// b_ih for every step (3H × T·B, time-major), `W_hh` (3H × H), `b_hh` (3H × 1), the initial
/// state `h0` (H × B) and `masks` (1 × T·B, 0 where an episode starts: the incoming state is
/// zeroed). Returns the hidden state after every step, H × T·B.
template <class Scalar>
Var<Scalar> gru_sequence(Var<Scalar> xproj, Var<Scalar> W_hh, Var<Scalar> b_hh, Var<Scalar> h0, Var<Scalar> masks) {
  const Eigen::Index H = W_hh.cols(), B = h0.cols(), TB = xproj.cols();
  if (W_hh.rows() != 3 * H) throw_shape_error("gru_sequence", "W_hh", 3 * H, H, W_hh.rows(), W_hh.cols());
  if (b_hh.rows() != 3 * H || b_hh.cols() != 1) throw_shape_error("gru_sequence", "b_hh", 3 * H, 1, b_hh.rows(), b_hh.cols());
  if (h0.rows() != H) throw_shape_error("gru_sequence", "h0", H, B, h0.rows(), h0.cols());
  if (B == 0 || TB % B != 0 || xproj.rows() != 3 * H)
    throw_shape_error("gru_sequence", "xproj (3H × T·B)", 3 * H, TB - TB % (B > 0 ? B : 1), xproj.rows(), xproj.cols());
  if (masks.rows() != 1 || masks.cols() != TB) throw_shape_error("gru_sequence", "masks", 1, TB, masks.rows(), masks.cols());
  Tape<Scalar>& t = *xproj.tape;
  const bool grad = t.needs_grad(xproj.id) || t.needs_grad(W_hh.id) || t.needs_grad(b_hh.id) || t.needs_grad(h0.id);
  const int id = t.push(H, TB, grad);
  Node<Scalar>& n = t.node(id);
  n.input[0] = xproj.id;
  n.input[1] = W_hh.id;
  n.input[2] = b_hh.id;
  n.input[3] = h0.id;
  n.index[0] = B;
  n.aux = t.scratch(static_cast<std::size_t>(TB + 7 * H * TB));
  if (n.requires_grad) n.backward = &detail::gru_sequence_backward<Scalar>;
  Scalar* m = n.aux;
  Scalar* h_in = m + TB;
  Scalar* hp = h_in + H * TB;
  Scalar* act = hp + 3 * H * TB;
  std::copy(t.node(masks.id).value, t.node(masks.id).value + TB, m);
  Scalar* out = t.node(id).value;
  const Scalar* x = t.node(xproj.id).value;
  const ConstBlockMap<Scalar> W(t.node(W_hh.id).value, 3 * H, H);
  const Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>> bias(t.node(b_hh.id).value, 3 * H);
  const Scalar* start = t.node(h0.id).value;
  using Array = Eigen::Array<Scalar, Eigen::Dynamic, 1>;
  using In = Eigen::Map<const Array>;
  const Eigen::Index T = TB / B;
  for (Eigen::Index s = 0; s < T; ++s) {
    const Eigen::Index c0 = s * B;
    for (Eigen::Index b = 0; b < B; ++b) {
      const Eigen::Index col = c0 + b;
      const Scalar* h = s == 0 ? start + b * H : out + (col - B) * H;
      for (Eigen::Index k = 0; k < H; ++k) h_in[col * H + k] = h[k] * m[col];
    }
    BlockMap<Scalar>(hp + c0 * 3 * H, 3 * H, B).colwise() = bias;
    detail::step_product(hp + c0 * 3 * H, W, h_in + c0 * H, B);
    for (Eigen::Index b = 0; b < B; ++b) {
      const Eigen::Index col = c0 + b;
      const In xc(x + col * 3 * H, 3 * H), p(hp + col * 3 * H, 3 * H), hi(h_in + col * H, H);
      Eigen::Map<Array> a(act + col * 3 * H, 3 * H), h(out + col * H, H);
      a.head(2 * H) = (Scalar(1) + (-(xc.head(2 * H) + p.head(2 * H))).exp()).inverse();
      a.tail(H) = (xc.tail(H) + a.head(H) * p.tail(H)).tanh();
      h = (Scalar(1) - a.segment(H, H)) * a.tail(H) + a.segment(H, H) * hi;
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
