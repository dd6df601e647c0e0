#pragma once
// Independent standard normal draws: the ordinary (white) exploration noise.
#include "../autodiff/tape.hpp"
#include "../core/rng.hpp"

namespace spindle::noise {

/// A source of standard-normal noise for `streams` environments of `dim` action dimensions.
/// Sources are what a Gaussian head draws ξ from while exploring; colored sources
/// (pink, Ornstein–Uhlenbeck) keep per-environment state and correlate ξ in time.
template <class S>
struct WhiteNoise {
  static constexpr const char* name = "white";
  struct Config {
    template <class F> void fields(F&&) {}
  };
  WhiteNoise() = default;
  explicit WhiteNoise(Config) {}
  void resize(Eigen::Index /*dim*/, Eigen::Index /*streams*/, Rng&) {}
  /// Next draw of every stream: column i is stream i.
  void next(Eigen::Ref<autodiff::Matrix<S>> out, Rng& rng) { rng.fill_normal(out); }
  /// Starts stream i afresh (an episode ended).
  void restart(Eigen::Index /*stream*/, Rng&) {}
};

}  // namespace spindle::noise
