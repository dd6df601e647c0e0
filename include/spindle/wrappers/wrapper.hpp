#pragma once
// The one base of spindle's single-environment wrappers: it holds the wrapped
// environment and forwards its dimensions, spaces and sizes.
#include <utility>

#include "../core/environment.hpp"

namespace spindle {

template <Environment Env>
class Wrapper {
 public:
  static constexpr int obs_dim = Env::obs_dim, act_dim = Env::act_dim;

  explicit Wrapper(Env env) : env_(std::move(env)) {}

  decltype(auto) action_space() const { return spindle::action_space(env_); }
  Eigen::Index observation_size() const { return spindle::observation_size(env_); }

  Env& inner() noexcept { return env_; }
  const Env& inner() const noexcept { return env_; }

 protected:
  Env env_;
};

}  // namespace spindle
