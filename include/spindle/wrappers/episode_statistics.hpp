#pragma once
// EpisodeStatistics: records each finished episode's return and length
// (Gymnasium's RecordEpisodeStatistics, SB3's Monitor without the file).
#include <optional>

#include "../core/episode_record.hpp"
#include "wrapper.hpp"

namespace spindle {

template <Environment Env>
class EpisodeStatistics : public Wrapper<Env> {
 public:
  using Wrapper<Env>::Wrapper;

  observation_t<Env> reset(Rng& rng) {
    acc_.clear();
    return this->env_.reset(rng);
  }

  step_result_t<Env> step(const action_t<Env>& action) {
    auto s = this->env_.step(action);
    acc_.add(static_cast<double>(s.reward));
    if (s.terminated || s.truncated) {
      last_ = acc_.finish();
      ++completed_;
    }
    return s;
  }

  /// The most recent finished episode, if any.
  const std::optional<EpisodeRecord>& last_episode() const noexcept { return last_; }
  /// The episode in progress so far.
  const EpisodeRecord& current_episode() const noexcept { return acc_.current(); }
  long episodes_completed() const noexcept { return completed_; }

 private:
  EpisodeAccumulator acc_;
  std::optional<EpisodeRecord> last_;
  long completed_ = 0;
};

}  // namespace spindle
