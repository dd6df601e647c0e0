#pragma once
// Running mean and variance of a vector quantity, merged batch by batch with
// Chan et al.'s parallel formula — the semantics of SB3's RunningMeanStd
// (float64 statistics, a prior pseudo-count `epsilon` at mean 0, variance 1).
#include <Eigen/Core>

#include "errors.hpp"

namespace spindle {

class RunningMeanStd {
 public:
  using Vector = Eigen::VectorXd;

  explicit RunningMeanStd(Eigen::Index size = 1, double epsilon = 1e-4)
      : mean_(Vector::Zero(size)), var_(Vector::Ones(size)), count_(epsilon) {}

  /// Adds a batch whose rows are samples (batch × size), any scalar type.
  /// Allocation-free: the batch moments are folded in one column at a time.
  template <class Derived>
  void update(const Eigen::MatrixBase<Derived>& batch) {
    check_shape(batch, batch.rows(), size(), "RunningMeanStd::update", "batch");
    const double n = static_cast<double>(batch.rows());
    if (n == 0) return;
    const double total = count_ + n;
    for (Eigen::Index j = 0; j < size(); ++j) {
      const auto col = batch.col(j).template cast<double>();
      const double batch_mean = col.sum() / n;
      const double batch_var = (col.array() - batch_mean).square().sum() / n;
      merge_one(j, batch_mean, batch_var, n, total);
    }
    count_ = total;
  }

  /// Merges statistics gathered elsewhere (e.g. by another worker).
  void merge(const RunningMeanStd& other) {
    check_shape(other.mean_, size(), 1, "RunningMeanStd::merge", "other");
    const double total = count_ + other.count_;
    if (total == 0) return;
    for (Eigen::Index j = 0; j < size(); ++j) merge_one(j, other.mean_(j), other.var_(j), other.count_, total);
    count_ = total;
  }

  Eigen::Index size() const noexcept { return mean_.size(); }
  const Vector& mean() const noexcept { return mean_; }
  const Vector& var() const noexcept { return var_; }
  double count() const noexcept { return count_; }

  /// Restores saved statistics (checkpoints).
  void set(Vector mean, Vector var, double count) {
    check_shape(var, mean.size(), 1, "RunningMeanStd::set", "var");
    mean_ = std::move(mean);
    var_ = std::move(var);
    count_ = count;
  }

  friend bool operator==(const RunningMeanStd& a, const RunningMeanStd& b) {
    return a.count_ == b.count_ && a.mean_ == b.mean_ && a.var_ == b.var_;
  }

 private:
  void merge_one(Eigen::Index j, double b_mean, double b_var, double b_count, double total) noexcept {
    const double delta = b_mean - mean_(j);
    const double m2 = var_(j) * count_ + b_var * b_count + delta * delta * count_ * b_count / total;
    mean_(j) += delta * b_count / total;
    var_(j) = m2 / total;
  }

  Vector mean_, var_;
  double count_;
};

}  // namespace spindle
