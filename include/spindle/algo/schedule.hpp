#pragma once
// A hyperparameter that may change over training, as a function of SB3's "progress
// remaining" (1 at the start of learn(), 0 at its end). A plain number converts to a
// constant, so `.learning_rate = 3e-4` works; Schedule::linear(3e-4) decays to 0.
namespace spindle::algo {

struct Schedule {
  double start = 0.0;
  double end = 0.0;

  constexpr Schedule(double constant = 0.0) noexcept : start(constant), end(constant) {}  // NOLINT: implicit on purpose
  /// From `from` at the start to `to` at the end, linearly in the steps taken (SB3's linear_schedule when to = 0).
  static constexpr Schedule linear(double from, double to = 0.0) noexcept {
    Schedule s(from);
    s.end = to;
    return s;
  }
  constexpr double operator()(double progress_remaining) const noexcept {
    return end + (start - end) * progress_remaining;
  }
  constexpr bool constant() const noexcept { return start == end; }
};

}  // namespace spindle::algo
