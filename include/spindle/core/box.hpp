#pragma once
// spindle::Box — a box-shaped space [low, high] (Gymnasium's Box).
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "errors.hpp"
#include "rng.hpp"

namespace spindle {

template <class Scalar = float>
struct Box {
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  Vector low, high;

  Box() = default;

  /// The same bounds for every dimension: Box{-1.0f, 1.0f, 3}.
  Box(Scalar lo, Scalar hi, Eigen::Index size)
      : low(Vector::Constant(size, lo)), high(Vector::Constant(size, hi)) {
    validate();
  }

  /// Per-dimension bounds.
  Box(Vector lo, Vector hi) : low(std::move(lo)), high(std::move(hi)) { validate(); }

  Eigen::Index size() const noexcept { return low.size(); }

  /// True when every bound is finite.
  bool bounded() const noexcept { return low.allFinite() && high.allFinite(); }

  /// True when `x` has the box's size and lies within its bounds.
  template <class Derived>
  bool contains(const Eigen::MatrixBase<Derived>& x) const {
    if (x.rows() != size() || x.cols() != 1) return false;
    for (Eigen::Index i = 0; i < size(); ++i)
      if (!(x(i) >= low(i) && x(i) <= high(i))) return false;  // NaN is outside
    return true;
  }

  /// A uniform sample in the box, written into `out` (no allocation when `out`
  /// has the right size). Unbounded sides are sampled as in Gymnasium: a normal
  /// draw where both are unbounded, a shifted exponential where one is.
  template <class Derived>
  void sample(Rng& rng, Eigen::MatrixBase<Derived>& out) const {
    check_shape(out, size(), 1, "Box::sample", "output");
    for (Eigen::Index i = 0; i < size(); ++i) {
      const bool lo_ok = std::isfinite(low(i)), hi_ok = std::isfinite(high(i));
      if (lo_ok && hi_ok)
        out(i) = low(i) + (high(i) - low(i)) * rng.uniform<Scalar>();
      else if (!lo_ok && !hi_ok)
        out(i) = rng.normal<Scalar>();
      else {
        const Scalar e = -std::log(Scalar(1) - rng.uniform<Scalar>());
        out(i) = lo_ok ? low(i) + e : high(i) - e;
      }
    }
  }
  template <class Derived>
  void sample(Rng& rng, Eigen::MatrixBase<Derived>&& out) const {
    sample(rng, out);
  }
  Vector sample(Rng& rng) const {
    Vector v(size());
    sample(rng, v);
    return v;
  }

  /// `x` clipped to the bounds.
  template <class Derived>
  typename Derived::PlainObject clip(const Eigen::MatrixBase<Derived>& x) const {
    check_shape(x, size(), 1, "Box::clip", "x");
    return x.cwiseMax(low).cwiseMin(high);
  }

  /// Maps `u` from [-1, 1] affinely onto [low, high] (requires a bounded box).
  template <class Derived>
  typename Derived::PlainObject rescale_from_unit(const Eigen::MatrixBase<Derived>& u) const {
    check_shape(u, size(), 1, "Box::rescale_from_unit", "u");
    return (low.array() + (u.array() + Scalar(1)) * Scalar(0.5) * (high - low).array()).matrix();
  }

  /// Maps `x` from [low, high] affinely onto [-1, 1] (requires a bounded box).
  template <class Derived>
  typename Derived::PlainObject rescale_to_unit(const Eigen::MatrixBase<Derived>& x) const {
    check_shape(x, size(), 1, "Box::rescale_to_unit", "x");
    return (Scalar(2) * (x - low).array() / (high - low).array() - Scalar(1)).matrix();
  }

 private:
  void validate() const {
    if (low.size() != high.size())
      throw_shape_error("Box", "high", low.size(), 1, high.size(), 1);
    for (Eigen::Index i = 0; i < low.size(); ++i)
      if (std::isnan(low(i)) || std::isnan(high(i)) || !(low(i) <= high(i)))
        throw std::invalid_argument("Box: low[" + std::to_string(i) + "] = " +
                                    std::to_string(low(i)) + " is not <= high[" +
                                    std::to_string(i) + "] = " + std::to_string(high(i)));
  }
};

Box(float, float, Eigen::Index) -> Box<float>;
Box(double, double, Eigen::Index) -> Box<double>;
Box(float, float, int) -> Box<float>;
Box(double, double, int) -> Box<double>;

}  // namespace spindle
