#pragma once
// policy::HistoryMlp: an MLP on the flattened window of the last T observations and
// previous actions (newest last, zeros before the episode's start) — the control for "more
// input" next to attention and temporal-convolution policies, and a memory without recurrence.
#include <stdexcept>

#include "network.hpp"

namespace spindle::policy {

struct HistoryMlp {
  struct Config {
    Eigen::Index history = 30;  // T (DMAP: 30 steps, about 0.5 s)
  };
  nn::MlpStack mlp;
  Eigen::Index length = 0, entry = 0;

  template <class S>
  static HistoryMlp create(nn::Parameters<S>& p, const Build& b, const Config& c, Rng& rng) {
    if (c.history <= 0)
      throw std::invalid_argument("HistoryMlp: the history length must be positive, got " + std::to_string(c.history));
    const Eigen::Index in = c.history * b.shapes.entry() + (b.role == Role::q ? b.shapes.action : 0);
    return {nn::MlpStack::create(p, b.prefix, b.mlp(in), rng), c.history, b.shapes.entry()};
  }
  Eigen::Index history_length() const noexcept { return length; }

  template <class S>
  autodiff::Var<S> operator()(nn::Parameters<S>& p, const Inputs<S>& in) const {
    const autodiff::Var<S> window = newest(in.history, length, entry);
    return mlp(p, in.action.tape ? autodiff::concat_rows(window, in.action) : window);
  }
};

}  // namespace spindle::policy
