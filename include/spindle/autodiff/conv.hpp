#pragma once
// 1-D convolution for temporal encoders (valid padding, PyTorch's Conv1d cross-correlation).
//
// A sample is C_in channels × T steps flattened channel-major into one column (row c·T + t),
// so a batch stays features × batch like every other value. The output is C_out × T_out
// flattened the same way, T_out = (T − K)/stride + 1. W is C_out × (C_in·K) (W(o, c·K + k)
// is PyTorch's weight[o, c, k]), b is C_out × 1; an activation may follow in the same node.
// Forward: im2col into tape scratch, one GEMM (the small-layer kernel, in column chunks), bias
// and activation while reordering to channel-major; backward: two GEMMs and a col2im
// scatter-add. Steady state allocates nothing.
#include "linalg.hpp"

namespace spindle::autodiff {

namespace detail {

struct ConvShape {
  Eigen::Index c_in, t_in, c_out, k, stride, t_out, batch;
};

template <class Scalar>
ConvShape conv_shape(const Node<Scalar>& n, const Tape<Scalar>& t) {
  const auto& x = t.node(n.input[0]);
  const auto& w = t.node(n.input[1]);
  ConvShape s;
  s.t_in = n.index[0];
  s.stride = n.index[1];
  s.c_in = x.rows / s.t_in;
  s.c_out = w.rows;
  s.k = w.cols / s.c_in;
  s.t_out = (s.t_in - s.k) / s.stride + 1;
  s.batch = x.cols;
  return s;
}

template <class Scalar>
void conv1d_backward(Tape<Scalar>& t, const Node<Scalar>& n) {
  activation_backward_inplace(n, static_cast<Activation>(n.tag));
  const ConvShape s = conv_shape(n, t);
  const Eigen::Index cols_n = s.t_out * s.batch, ck = s.c_in * s.k;
  const ConstMatrixMap<Scalar> G(n.grad, n.rows, n.cols);
  MatrixMap<Scalar> Gcol(t.scratch(static_cast<std::size_t>(s.c_out * cols_n)), s.c_out, cols_n);
  for (Eigen::Index b = 0; b < s.batch; ++b)
    for (Eigen::Index to = 0; to < s.t_out; ++to)
      for (Eigen::Index o = 0; o < s.c_out; ++o) Gcol(o, b * s.t_out + to) = G(o * s.t_out + to, b);
  const Scalar* cols = n.aux;
  if (t.needs_grad(n.input[1]))  // ∂W = Gcol colsᵀ
    t.accumulate_with(n.input[1], [&](MatrixMap<Scalar> dW, bool acc) {
      strided_gemm<Scalar>(dW.data(), s.c_out, Gcol.data(), s.c_out, cols, ck, true, s.c_out, ck, cols_n, acc);
    });
  if (t.needs_grad(n.input[2])) t.accumulate(n.input[2], Gcol.rowwise().sum());
  if (t.needs_grad(n.input[0])) {  // ∂cols = Wᵀ Gcol, scattered back onto the input steps
    MatrixMap<Scalar> dcols(t.scratch(static_cast<std::size_t>(ck * cols_n)), ck, cols_n);
    MatrixMap<Scalar> WT(t.scratch(static_cast<std::size_t>(ck * s.c_out)), ck, s.c_out);
    transpose_into(t.value(n.input[1]), WT);
    strided_gemm<Scalar>(dcols.data(), ck, WT.data(), ck, Gcol.data(), s.c_out, false, ck, cols_n, s.c_out, false);
    Node<Scalar>& xn = t.node(n.input[0]);
    MatrixMap<Scalar> dx(xn.grad, xn.rows, xn.cols);
    if (!xn.external_grad && !xn.grad_written) dx.setZero();
    for (Eigen::Index b = 0; b < s.batch; ++b)
      for (Eigen::Index to = 0; to < s.t_out; ++to) {
        const Scalar* src = dcols.data() + (b * s.t_out + to) * ck;
        Scalar* dst = dx.data() + b * xn.rows + to * s.stride;
        for (Eigen::Index c = 0; c < s.c_in; ++c)
          for (Eigen::Index k = 0; k < s.k; ++k) dst[c * s.t_in + k] += src[c * s.k + k];
      }
    xn.grad_written = true;
  }
}

}  // namespace detail

/// y = f(conv1d(x) + b): x (C_in·T) × batch, W C_out × (C_in·K), b C_out × 1; result (C_out·T_out) × batch.
template <class S>
Var<S> conv1d(Var<S> x, Var<S> W, Var<S> b, Eigen::Index length, Eigen::Index stride = 1,
              Activation act = Activation::identity) {
  if (length <= 0 || stride <= 0 || x.rows() % length != 0)
    throw shape_error("conv1d: input has " + std::to_string(x.rows()) + " rows, not a whole number of channels of length " +
                      std::to_string(length) + " (stride " + std::to_string(stride) + ")");
  const Eigen::Index c_in = x.rows() / length;
  if (W.cols() % c_in != 0 || W.cols() / c_in > length)
    throw shape_error("conv1d: weight has shape " + spindle::detail::shape_string(W.rows(), W.cols()) + ", expected (C_out, " +
                      std::to_string(c_in) + "·K) with K <= " + std::to_string(length));
  if (b.rows() != W.rows() || b.cols() != 1) throw_shape_error("conv1d", "bias", W.rows(), 1, b.rows(), b.cols());
  Tape<S>& t = *x.tape;
  const Eigen::Index k = W.cols() / c_in, t_out = (length - k) / stride + 1, batch = x.cols();
  const Eigen::Index ck = c_in * k, cols_n = t_out * batch, c_out = W.rows();
  const int id = t.push(c_out * t_out, batch, t.needs_grad(x.id) || t.needs_grad(W.id) || t.needs_grad(b.id));
  S* cols_data = t.scratch(static_cast<std::size_t>(ck * cols_n));
  S* y_data = t.scratch(static_cast<std::size_t>(c_out * cols_n));
  Node<S>& n = t.node(id);
  n.input[0] = x.id;
  n.input[1] = W.id;
  n.input[2] = b.id;
  n.index[0] = length;
  n.index[1] = stride;
  n.tag = static_cast<int>(act);
  n.aux = cols_data;
  if (n.requires_grad) n.backward = &detail::conv1d_backward<S>;
  const S* X = t.node(x.id).value;
  for (Eigen::Index j = 0; j < batch; ++j)  // im2col: column (j, to) is the window at to·stride
    for (Eigen::Index to = 0; to < t_out; ++to) {
      S* dst = cols_data + (j * t_out + to) * ck;
      const S* src = X + j * x.rows() + to * stride;
      for (Eigen::Index c = 0; c < c_in; ++c)
        for (Eigen::Index kk = 0; kk < k; ++kk) dst[c * k + kk] = src[c * length + kk];
    }
  detail::strided_gemm<S>(y_data, c_out, t.node(W.id).value, c_out, cols_data, ck, false, c_out, cols_n, ck, false);
  const auto bias = t.value(b.id);
  auto out = t.value(id);
  for (Eigen::Index j = 0; j < batch; ++j)
    for (Eigen::Index to = 0; to < t_out; ++to) {
      const S* y = y_data + (j * t_out + to) * c_out;
      for (Eigen::Index o = 0; o < c_out; ++o) out(o * t_out + to, j) = y[o] + bias(o, 0);
    }
  detail::activate_inplace(t, n, out, act);
  return {&t, id};
}

}  // namespace spindle::autodiff
