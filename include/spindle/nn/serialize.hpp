#pragma once
// Saving and loading parameters and optimiser state in a Checkpoint.
#include <string>

#include "../io/checkpoint.hpp"
#include "optim.hpp"
#include "parameters.hpp"

namespace spindle::nn {

/// Stores each parameter as "<prefix>.<name>".
template <class Scalar>
void save(io::Checkpoint& c, const std::string& prefix, const Parameters<Scalar>& p) {
  for (int i = 0; i < p.count(); ++i) c.put(prefix + "." + p.slot(i).name, p.value(i));
}

/// Restores every parameter; throws naming a missing or wrongly shaped array (nothing changes then).
template <class Scalar>
void load(const io::Checkpoint& c, const std::string& prefix, Parameters<Scalar>& p) {
  Parameters<Scalar> staged = p;  // all or nothing
  for (int i = 0; i < p.count(); ++i) {
    const auto& s = p.slot(i);
    staged.value(i) = c.get<Scalar>(prefix + "." + s.name, s.rows, s.cols);
  }
  p = std::move(staged);
}

template <class Scalar>
void save(io::Checkpoint& c, const std::string& prefix, const Adam<Scalar>& adam) {
  c.put(prefix + ".m", adam.first_moment());
  c.put(prefix + ".v", adam.second_moment());
  c.put_scalar(prefix + ".t", static_cast<std::int64_t>(adam.steps()));
}

template <class Scalar>
void load(const io::Checkpoint& c, const std::string& prefix, Adam<Scalar>& adam) {
  const auto n = adam.first_moment().size();
  const auto m = c.get<Scalar>(prefix + ".m", n, 1);
  const auto v = c.get<Scalar>(prefix + ".v", n, 1);
  adam.set_state(m, v, static_cast<long>(c.get_scalar<std::int64_t>(prefix + ".t")));
}

}  // namespace spindle::nn
