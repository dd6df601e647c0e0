#pragma once
// Tracks whether an environment may be stepped: after reset, and not after the
// episode ended. Shipped environments and wrappers hold one.
#include <string>
#include <string_view>

#include "errors.hpp"

namespace spindle {

class EpisodeGuard {
 public:
  void on_reset() noexcept { phase_ = Phase::running; }

  void before_step(std::string_view env_name) const {
    if (phase_ == Phase::running) return;
    std::string msg(env_name);
    msg += phase_ == Phase::never_reset
               ? "::step called before reset()"
               : "::step called after the episode ended (terminated or truncated); call reset() first";
    throw episode_error(msg);
  }

  void after_step(bool done) noexcept {
    if (done) phase_ = Phase::finished;
  }

  bool running() const noexcept { return phase_ == Phase::running; }
  /// For checkpoints: 0 never reset, 1 running, 2 finished.
  int phase() const noexcept { return static_cast<int>(phase_); }
  void set_phase(int p) noexcept { phase_ = static_cast<Phase>(p); }

 private:
  enum class Phase { never_reset, running, finished };
  Phase phase_ = Phase::never_reset;
};

}  // namespace spindle
