#pragma once
// Per-episode return and length, accumulated step by step.
#include <cstdint>

namespace spindle {

struct EpisodeRecord {
  double episode_return = 0.0;  // undiscounted sum of raw rewards
  std::int64_t length = 0;      // steps
  friend bool operator==(const EpisodeRecord&, const EpisodeRecord&) = default;
};

class EpisodeAccumulator {
 public:
  void add(double reward) noexcept {
    current_.episode_return += reward;
    ++current_.length;
  }
  /// Returns the finished episode and starts a new one.
  EpisodeRecord finish() noexcept {
    const EpisodeRecord done = current_;
    current_ = {};
    return done;
  }
  void clear() noexcept { current_ = {}; }
  void restore(const EpisodeRecord& r) noexcept { current_ = r; }
  const EpisodeRecord& current() const noexcept { return current_; }

 private:
  EpisodeRecord current_;
};

}  // namespace spindle
