#pragma once
// Parameters: every parameter and gradient of a module in one flat, aligned
// buffer each, so optimisers, clipping, copying and Polyak averaging are single
// passes over contiguous memory. Individual parameters are views (offset, shape).
#include <Eigen/Core>
#include <string>
#include <vector>

#include "../autodiff/tape.hpp"
#include "../core/errors.hpp"

namespace spindle::nn {

template <class Scalar>
class Parameters {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using MatrixMap = autodiff::MatrixMap<Scalar>;
  using ConstMatrixMap = autodiff::ConstMatrixMap<Scalar>;

  struct Slot {
    std::string name;
    Eigen::Index offset = 0, rows = 0, cols = 0;
  };

  /// Adds a zero-initialised rows × cols parameter; returns its index.
  int add(std::string name, Eigen::Index rows, Eigen::Index cols) {
    constexpr Eigen::Index align = 64 / static_cast<Eigen::Index>(sizeof(Scalar));  // each slot starts on a cache line
    const Eigen::Index offset = (total_ + align - 1) / align * align;
    slots_.push_back({std::move(name), offset, rows, cols});
    total_ = offset + rows * cols;
    Vector v = Vector::Zero(total_), g = Vector::Zero(total_);
    v.head(values_.size()) = values_;
    values_.swap(v);
    grads_.swap(g);
    return static_cast<int>(slots_.size()) - 1;
  }

  int count() const noexcept { return static_cast<int>(slots_.size()); }
  const Slot& slot(int i) const { return slots_.at(static_cast<std::size_t>(i)); }
  const std::vector<Slot>& slots() const noexcept { return slots_; }

  MatrixMap value(int i) { const auto& s = slot(i); return {values_.data() + s.offset, s.rows, s.cols}; }
  ConstMatrixMap value(int i) const { const auto& s = slot(i); return {values_.data() + s.offset, s.rows, s.cols}; }
  MatrixMap grad(int i) { const auto& s = slot(i); return {grads_.data() + s.offset, s.rows, s.cols}; }
  ConstMatrixMap grad(int i) const { const auto& s = slot(i); return {grads_.data() + s.offset, s.rows, s.cols}; }

  /// The flat buffers (alignment padding between slots is always zero).
  Vector& values() noexcept { return values_; }
  const Vector& values() const noexcept { return values_; }
  Vector& grads() noexcept { return grads_; }
  const Vector& grads() const noexcept { return grads_; }
  Eigen::Index size() const noexcept { return total_; }

  void zero_grad() noexcept { grads_.setZero(); }

  /// Parameter i as a leaf on `tape` (gradients accumulate into grads()).
  autodiff::Var<Scalar> on(autodiff::Tape<Scalar>& tape, int i) {
    if (frozen_) return on_frozen(tape, i);
    const auto& s = slot(i);
    return tape.parameter(values_.data() + s.offset, grads_.data() + s.offset, s.rows, s.cols);
  }

  /// Parameter i as a constant on `tape` (a frozen network: no gradient is computed for it).
  autodiff::Var<Scalar> on_frozen(autodiff::Tape<Scalar>& tape, int i) {
    const auto& s = slot(i);
    return tape.view(values_.data() + s.offset, s.rows, s.cols);
  }

  /// While frozen, on() hands out constants, so any network built over this set runs frozen
  /// (SAC's actor loss through the critics). Use nn::FrozenScope.
  void set_frozen(bool frozen) noexcept { frozen_ = frozen; }
  bool frozen() const noexcept { return frozen_; }

  /// Copies values from another set with the same layout (target networks).
  void copy_from(const Parameters& other) {
    check_same_layout(other, "Parameters::copy_from");
    values_ = other.values_;
  }

  void check_same_layout(const Parameters& other, const char* where) const {
    bool same = other.slots_.size() == slots_.size() && other.total_ == total_;
    for (std::size_t i = 0; same && i < slots_.size(); ++i)
      same = other.slots_[i].rows == slots_[i].rows && other.slots_[i].cols == slots_[i].cols;
    if (!same)
      throw shape_error(std::string(where) + ": parameter sets differ (" + std::to_string(other.slots_.size()) +
                        " parameters of " + std::to_string(other.total_) + " scalars, expected " +
                        std::to_string(slots_.size()) + " of " + std::to_string(total_) +
                        ", each of the same shape)");
  }

 private:
  std::vector<Slot> slots_;
  Vector values_, grads_;
  Eigen::Index total_ = 0;
  bool frozen_ = false;
};

/// Freezes a parameter set for the lifetime of the scope.
template <class Scalar>
class FrozenScope {
 public:
  explicit FrozenScope(Parameters<Scalar>& p) noexcept : p_(p), was_(p.frozen()) { p.set_frozen(true); }
  ~FrozenScope() { p_.set_frozen(was_); }
  FrozenScope(const FrozenScope&) = delete;
  FrozenScope& operator=(const FrozenScope&) = delete;

 private:
  Parameters<Scalar>& p_;
  bool was_;
};

/// target ← (1 − τ) target + τ source, in one pass (SB3's polyak_update).
template <class Scalar>
void polyak_update(const Parameters<Scalar>& source, Parameters<Scalar>& target, Scalar tau) {
  target.check_same_layout(source, "polyak_update");
  target.values() = (Scalar(1) - tau) * target.values() + tau * source.values();
}

}  // namespace spindle::nn
