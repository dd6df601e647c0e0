#pragma once
// 1-D convolution for temporal encoders (valid padding, PyTorch's Conv1d cross-correlation).
//
// A sample is C_in channels × T steps flattened channel-major into one column (row c·T + t),
// so a batch stays features × batch like every other value. The output is C_out × T_out
// flattened the same way, T_out = (T − K)/stride + 1. W is C_out × (C_in·K) (W(o, c·K + k)
// is PyTorch's weight[o, c, k]), b is C_out × 1. Forward: im2col into tape scratch, one GEMM,
// bias; backward: two GEMMs and a col2im scatter-add. Steady state allocates nothing.
#include "tape.hpp"

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
  const ConvShape s = conv_shape(n, t);
  const Eigen::Index cols_n = s.t_out * s.batch, ck = s.c_in * s.k;
  const ConstMatrixMap<Scalar> G(n.grad, n.rows, n.cols);
  MatrixMap<Scalar> Gcol(t.scratch(static_cast<std::size_t>(s.c_out * cols_n)), s.c_out, cols_n);
  for (Eigen::Index b = 0; b < s.batch; ++b)
    for (Eigen::Index o = 0; o < s.c_out; ++o)
      for (Eigen::Index to = 0; to < s.t_out; ++to) Gcol(o, b * s.t_out + to) = G(o * s.t_out + to, b);
  const ConstMatrixMap<Scalar> cols(n.aux, ck, cols_n);
  if (t.needs_grad(n.input[1])) t.accumulate_product(n.input[1], Gcol * cols.transpose());
  if (t.needs_grad(n.input[2])) t.accumulate(n.input[2], Gcol.rowwise().sum());
  if (t.needs_grad(n.input[0])) {
    MatrixMap<Scalar> dcols(t.scratch(static_cast<std::size_t>(ck * cols_n)), ck, cols_n);
    dcols.noalias() = t.value(n.input[1]).transpose() * Gcol;
    Node<Scalar>& xn = t.node(n.input[0]);
    MatrixMap<Scalar> dx(xn.grad, xn.rows, xn.cols);
    if (!xn.external_grad && !xn.grad_written) dx.setZero();
    for (Eigen::Index b = 0; b < s.batch; ++b)
      for (Eigen::Index to = 0; to < s.t_out; ++to)
        for (Eigen::Index c = 0; c < s.c_in; ++c)
          for (Eigen::Index k = 0; k < s.k; ++k)
            dx(c * s.t_in + to * s.stride + k, b) += dcols(c * s.k + k, b * s.t_out + to);
    xn.grad_written = true;
  }
}

}  // namespace detail

/// y = conv1d(x) + b: x (C_in·T) × batch, W C_out × (C_in·K), b C_out × 1; result (C_out·T_out) × batch.
template <class S>
Var<S> conv1d(Var<S> x, Var<S> W, Var<S> b, Eigen::Index length, Eigen::Index stride = 1) {
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
  n.aux = cols_data;
  if (n.requires_grad) n.backward = &detail::conv1d_backward<S>;
  const auto X = t.value(x.id);
  MatrixMap<S> cols(cols_data, ck, cols_n);
  for (Eigen::Index j = 0; j < batch; ++j)
    for (Eigen::Index to = 0; to < t_out; ++to)
      for (Eigen::Index c = 0; c < c_in; ++c)
        for (Eigen::Index kk = 0; kk < k; ++kk) cols(c * k + kk, j * t_out + to) = X(c * length + to * stride + kk, j);
  MatrixMap<S> Y(y_data, c_out, cols_n);
  Y.noalias() = t.value(W.id) * cols;
  Y.colwise() += t.value(b.id).col(0);
  auto out = t.value(id);
  for (Eigen::Index j = 0; j < batch; ++j)
    for (Eigen::Index o = 0; o < c_out; ++o)
      for (Eigen::Index to = 0; to < t_out; ++to) out(o * t_out + to, j) = Y(o, j * t_out + to);
  return {&t, id};
}

}  // namespace spindle::autodiff
