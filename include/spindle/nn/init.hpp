#pragma once
// Weight initialisation: PyTorch's nn.Linear default and orthogonal (as SB3 uses).
#include <Eigen/Core>
#include <Eigen/QR>
#include <cmath>

#include "../core/rng.hpp"

namespace spindle::nn {

enum class Init {
  pytorch_default,  // U(±1/√fan_in) for weights and biases
  orthogonal,       // orthogonal weights with a gain, zero biases (SB3's ortho_init)
};

/// PyTorch's nn.Linear default: W, b ~ U(−1/√fan_in, 1/√fan_in)
/// (kaiming_uniform with a = √5 for W reduces to this bound).
template <class WeightMap, class BiasMap>
void init_pytorch_default(WeightMap&& W, BiasMap&& b, Rng& rng) {
  using S = typename std::remove_cvref_t<WeightMap>::Scalar;
  const double bound = 1.0 / std::sqrt(static_cast<double>(W.cols()));
  for (Eigen::Index j = 0; j < W.cols(); ++j)
    for (Eigen::Index i = 0; i < W.rows(); ++i) W(i, j) = static_cast<S>(rng.uniform(-bound, bound));
  for (Eigen::Index i = 0; i < b.size(); ++i) b(i) = static_cast<S>(rng.uniform(-bound, bound));
}

/// Orthogonal initialisation (Saxe et al.; torch.nn.init.orthogonal_) scaled by `gain`, bias 0.
/// Rows (or columns, whichever are fewer) are orthonormal.
template <class WeightMap, class BiasMap>
void init_orthogonal(WeightMap&& W, BiasMap&& b, double gain, Rng& rng) {
  using S = typename std::remove_cvref_t<WeightMap>::Scalar;
  const Eigen::Index rows = W.rows(), cols = W.cols();
  const bool tall = rows >= cols;
  Eigen::MatrixXd A(tall ? rows : cols, tall ? cols : rows);
  rng.fill_normal(A);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(A);
  Eigen::MatrixXd Q = qr.householderQ() * Eigen::MatrixXd::Identity(A.rows(), A.cols());
  // Make the decomposition unique (R with a positive diagonal), as PyTorch does.
  const Eigen::MatrixXd R = qr.matrixQR().topRows(A.cols()).template triangularView<Eigen::Upper>();
  for (Eigen::Index j = 0; j < A.cols(); ++j)
    if (R(j, j) < 0) Q.col(j) *= -1.0;
  if (tall)
    W = (gain * Q).template cast<S>();
  else
    W = (gain * Q.transpose()).template cast<S>();
  b.setZero();
}

}  // namespace spindle::nn
