#pragma once
// Exact run state as 64-bit words: doubles are bit-cast, so a saved and restored state
// continues bit-identically. Environments that can be checkpointed mid-episode implement
//   void save_state(StateWords&) const;   void load_state(StateReader&);
#include <bit>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "rng.hpp"

namespace spindle {

using StateWords = std::vector<std::uint64_t>;

inline void put_word(StateWords& out, double x) { out.push_back(std::bit_cast<std::uint64_t>(x)); }
inline void put_word(StateWords& out, std::int64_t x) { out.push_back(static_cast<std::uint64_t>(x)); }

/// Reads words back in the order they were written; throws when the state runs short.
class StateReader {
 public:
  explicit StateReader(const StateWords& words) : words_(words) {}
  std::uint64_t word() {
    if (pos_ >= words_.size()) throw std::runtime_error("state: fewer words than expected (a checkpoint of another configuration?)");
    return words_[pos_++];
  }
  double real() { return std::bit_cast<double>(word()); }
  std::int64_t integer() { return static_cast<std::int64_t>(word()); }
  bool finished() const noexcept { return pos_ == words_.size(); }

 private:
  const StateWords& words_;
  std::size_t pos_ = 0;
};

inline void save_rng(StateWords& out, const Rng& rng) {
  const Rng::State s = rng.state();
  for (auto w : s.s) out.push_back(w);
  put_word(out, s.cached_normal);
  out.push_back(s.has_cached_normal ? 1 : 0);
}
inline void load_rng(StateReader& in, Rng& rng) {
  Rng::State s;
  for (auto& w : s.s) w = in.word();
  s.cached_normal = in.real();
  s.has_cached_normal = in.word() != 0;
  rng.set_state(s);
}

/// An environment whose mid-episode state can be saved and restored exactly.
template <class E>
concept SavableEnvironment = requires(const E& ce, E& e, StateWords& out, StateReader& in) {
  ce.save_state(out);
  e.load_state(in);
};

}  // namespace spindle
