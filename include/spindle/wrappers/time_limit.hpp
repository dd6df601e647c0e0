#pragma once
// TimeLimit: truncates episodes after a fixed number of steps (Gymnasium's TimeLimit).
#include <stdexcept>

#include "wrapper.hpp"

namespace spindle {

template <Environment Env>
class TimeLimit : public Wrapper<Env> {
 public:
  TimeLimit(Env env, int max_episode_steps) : Wrapper<Env>(std::move(env)), max_steps_(max_episode_steps) {
    if (max_episode_steps <= 0) throw std::invalid_argument("TimeLimit: max_episode_steps must be > 0");
  }

  observation_t<Env> reset(Rng& rng) {
    elapsed_ = 0;
    return this->env_.reset(rng);
  }

  step_result_t<Env> step(const action_t<Env>& action) {
    auto s = this->env_.step(action);
    if (++elapsed_ >= max_steps_) s.truncated = true;
    return s;
  }

  int elapsed_steps() const noexcept { return elapsed_; }
  int max_episode_steps() const noexcept { return max_steps_; }

 private:
  int max_steps_;
  int elapsed_ = 0;
};

}  // namespace spindle
