#pragma once
// The one base of spindle's single-environment wrappers: it holds the wrapped
// environment and forwards its dimensions, spaces and sizes, and the task interface a
// curriculum and its success signal read (set_task, task_parameters, success), so that
// Staged<HistoryWindow<Task, T>> advances exactly as Staged<Task> does.
#include <concepts>
#include <string>
#include <utility>
#include <vector>

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

  // The task interface, where the wrapped environment has it (a wrapper that dropped success()
  // would leave a success-rate curriculum at its first stage without a word).
  template <class Params>
    requires requires(Env& e, const Params& p) { e.set_task(p); }
  void set_task(const Params& params) {
    env_.set_task(params);
  }
  static std::vector<std::string> task_parameters()
    requires requires { Env::task_parameters(); }
  {
    return Env::task_parameters();
  }
  bool success() const
    requires requires(const Env& e) { { e.success() } -> std::convertible_to<bool>; }
  {
    return env_.success();
  }

 protected:
  Env env_;
};

}  // namespace spindle
