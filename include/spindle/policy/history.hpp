#pragma once
// What networks read besides the observation, kept without copies per step:
//   LiveContext    — per environment, the window of the last T (observation, previous
//                    action) entries (a shifting column, zeros before the episode's start),
//                    the previous action and the privileged values: what acting reads.
//   RolloutContext — PPO's rollout: each step's newest entry stored once per sample in a
//                    per-environment timeline (plus T − 1 entries carried over from the
//                    previous rollout), from which minibatch windows are rebuilt; previous
//                    actions and privileged values per sample; the same for the final
//                    observations of truncated episodes (bootstrapping).
// Layouts: features × columns, column-major; a window is T entries of (obs + act) rows,
// oldest first, each entry [observation; previous action].
#include <Eigen/Core>
#include <algorithm>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../core/errors.hpp"
#include "../core/state_words.hpp"
#include "network.hpp"

namespace spindle::policy {

/// What the networks of one algorithm read (the union over its actor and critic).
struct ContextNeeds {
  Eigen::Index history = 0;       // the longest window T (0: none)
  bool previous_action = false;   // true whenever history > 0 (entries hold it)
  Eigen::Index privileged = 0;    // privileged values per step (0: none)
  bool any() const noexcept { return history > 0 || previous_action || privileged > 0; }
};

/// The needs of an actor and a critic built for `shapes`.
template <class Actor, class Critic>
ContextNeeds needs_of(const Actor& actor, const Critic& critic, const Shapes& shapes) {
  ContextNeeds n;
  n.history = std::max(history_length(actor), history_length(critic));
  if (n.history < 0) throw std::invalid_argument("policy: a history length must be positive");
  n.previous_action = n.history > 0 || reads_previous_action<Actor>() || reads_previous_action<Critic>();
  n.privileged = reads_privileged<Actor>() || reads_privileged<Critic>() ? shapes.privileged : 0;
  return n;
}

/// Where one batch's context columns are (features × B, column-major; null when absent).
template <class S>
struct ContextColumns {
  const S* history = nullptr;
  const S* previous_action = nullptr;
  const S* privileged = nullptr;

  /// Columns [first, …) of a window, previous-action and privileged matrix.
  template <class M>
  static ContextColumns of(const M& window, const M& previous_action, const M& privileged_values,
                           Eigen::Index first = 0) {
    return {window.data() + first * window.rows(), previous_action.data() + first * previous_action.rows(),
            privileged_values.data() + first * privileged_values.rows()};
  }
};

/// The Inputs of network N on tape t for a batch of observations (obs × B): the context it
/// needs as views of the columns (privileged values only if N reads them), and for a Q
/// network the action, stacked under the observation once when N reads that
/// (observation_action) — twin critics then share one copy.
template <class N, class S>
Inputs<S> inputs_for(autodiff::Tape<S>& t, autodiff::Var<S> observation, const ContextColumns<S>& c,
                     const ContextNeeds& needs, const Shapes& shapes, autodiff::Var<S> action = {}) {
  const Eigen::Index B = observation.cols();
  Inputs<S> in;
  in.observation = observation;
  in.action = action;
  if (action.tape && reads_observation_action<N>()) in.observation_action = autodiff::concat_rows(observation, action);
  if (needs.history > 0) in.history = t.view(c.history, needs.history * shapes.entry(), B);
  if (needs.previous_action) in.previous_action = t.view(c.previous_action, shapes.action, B);
  if (reads_privileged<N>() && needs.privileged > 0) in.privileged = t.view(c.privileged, needs.privileged, B);
  return in;
}

template <class S>
class LiveContext {
 public:
  using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

  LiveContext() = default;
  LiveContext(Eigen::Index n_envs, Shapes shapes, ContextNeeds needs) : shapes_(shapes), needs_(needs) {
    window_ = Matrix::Zero(needs.history * shapes.entry(), n_envs);
    previous_action_ = Matrix::Zero(needs.previous_action ? shapes.action : 0, n_envs);
    privileged_ = Matrix::Zero(needs.privileged, n_envs);
  }

  /// Environment i starts a new episode: an empty window, no previous action.
  void reset(Eigen::Index i) {
    window_.col(i).setZero();
    previous_action_.col(i).setZero();
  }
  /// Environment i's next observation (after reset(i) when it starts an episode): the window
  /// moves one entry and gets [obs; previous action] as its newest.
  template <class Obs>
  void observe(Eigen::Index i, const Obs& obs) {
    if (needs_.history == 0) return;
    S* w = window_.col(i).data();
    const Eigen::Index C = shapes_.entry(), rows = window_.rows();
    std::copy(w + C, w + rows, w);
    write_entry(w + rows - C, obs, previous_action_.col(i));
  }
  /// The action environment i took in [−1, 1] (the next entry's previous action).
  template <class Act>
  void acted(Eigen::Index i, const Act& action) {
    if (needs_.previous_action) previous_action_.col(i) = action;
  }
  /// The window environment i would have after observe(i, obs), written to `out` (a column of
  /// window().rows()), without changing anything: the window of a final observation.
  template <class Obs, class Out>
  void window_after(Eigen::Index i, const Obs& obs, bool new_episode, Out&& out) const {
    const Eigen::Index C = shapes_.entry(), rows = window_.rows();
    if (rows == 0) return;
    if (new_episode) {
      out.setZero();
      for (Eigen::Index j = 0; j < shapes_.observation; ++j) out(rows - C + j) = obs(j);
      return;
    }
    out.head(rows - C) = window_.col(i).tail(rows - C);
    for (Eigen::Index j = 0; j < shapes_.observation; ++j) out(rows - C + j) = obs(j);
    out.tail(shapes_.action) = previous_action_.col(i);
  }
  template <class Row>
  void set_privileged(Eigen::Index i, const Row& values) {
    for (Eigen::Index j = 0; j < privileged_.rows(); ++j) privileged_(j, i) = static_cast<S>(values(j));
  }

  const Matrix& window() const noexcept { return window_; }
  const Matrix& previous_action() const noexcept { return previous_action_; }
  const Matrix& privileged() const noexcept { return privileged_; }
  const ContextNeeds& needs() const noexcept { return needs_; }
  const Shapes& shapes() const noexcept { return shapes_; }

  void save(StateWords& out) const {
    for (const Matrix* m : {&window_, &previous_action_})
      for (Eigen::Index k = 0; k < m->size(); ++k) put_word(out, static_cast<double>(m->data()[k]));
  }
  void load(StateReader& in) {
    for (Matrix* m : {&window_, &previous_action_})
      for (Eigen::Index k = 0; k < m->size(); ++k) m->data()[k] = static_cast<S>(in.real());
  }

 private:
  template <class Obs, class Act>
  void write_entry(S* dst, const Obs& obs, const Act& previous) const {
    for (Eigen::Index j = 0; j < shapes_.observation; ++j) dst[j] = static_cast<S>(obs(j));
    for (Eigen::Index j = 0; j < shapes_.action; ++j) dst[shapes_.observation + j] = previous(j);
  }

  Shapes shapes_{};
  ContextNeeds needs_{};
  Matrix window_, previous_action_, privileged_;
};

template <class S>
class RolloutContext {
 public:
  using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

  /// A minibatch's context, features × capacity (the first `count` columns in use).
  struct Batch {
    Matrix history, previous_action, privileged;
  };

  RolloutContext() = default;
  RolloutContext(Eigen::Index n_steps, Eigen::Index n_envs, Shapes shapes, ContextNeeds needs)
      : n_steps_(n_steps), n_envs_(n_envs), shapes_(shapes), needs_(needs) {
    const Eigen::Index T = needs.history, C = shapes.entry(), total = n_steps * n_envs;
    if (T > 0) {
      timeline_ = Matrix::Zero(C, (T - 1 + n_steps) * n_envs);
      starts_.assign(static_cast<std::size_t>((T - 1 + n_steps) * n_envs), 0);
    }
    previous_action_ = Matrix::Zero(needs.previous_action ? shapes.action : 0, total);
    privileged_ = Matrix::Zero(needs.privileged, total);
    // room for one truncation per environment before the first doubling
    grow(truncated_.history, needs.history * shapes.entry(), n_envs);
    grow(truncated_.previous_action, previous_action_.rows(), n_envs);
    grow(truncated_.privileged, privileged_.rows(), n_envs);
    all_.resize(static_cast<std::size_t>(total));
    std::iota(all_.begin(), all_.end(), Eigen::Index{0});
  }

  /// A new rollout: the carried entries are the newest T − 1 of each live window (already
  /// zero before an episode's start, so they need no start flags).
  void start_rollout(const LiveContext<S>& live) {
    truncations_ = 0;
    const Eigen::Index T = needs_.history, C = shapes_.entry();
    for (Eigen::Index i = 0; i < n_envs_; ++i)
      for (Eigen::Index u = 0; u + 1 < T; ++u) {
        timeline_.col(slot(u, i)) = live.window().col(i).segment((u + 1) * C, C);
        starts_[static_cast<std::size_t>(slot(u, i))] = 0;
      }
  }
  /// Step s: the context every environment acted on (after LiveContext::observe).
  void record(Eigen::Index s, const LiveContext<S>& live, std::span<const S> episode_starts) {
    const Eigen::Index T = needs_.history, C = shapes_.entry();
    for (Eigen::Index i = 0; i < n_envs_; ++i) {
      const Eigen::Index k = s * n_envs_ + i;
      if (T > 0) {
        const Eigen::Index u = slot(T - 1 + s, i);
        timeline_.col(u) = live.window().col(i).tail(C);
        starts_[static_cast<std::size_t>(u)] = episode_starts[static_cast<std::size_t>(i)] != S(0);
      }
      if (previous_action_.rows() > 0) previous_action_.col(k) = live.previous_action().col(i);
      if (privileged_.rows() > 0) privileged_.col(k) = live.privileged().col(i);
    }
  }
  /// The final observation of environment i's episode, truncated after this step: its
  /// context, bootstrapped in the order added (as RolloutBuffer::add_truncation).
  template <class Obs, class Privileged>
  void add_truncation(const LiveContext<S>& live, Eigen::Index i, const Obs& final_observation,
                      const Privileged& final_privileged) {
    grow(truncated_.history, live.window().rows(), truncations_ + 1);
    grow(truncated_.previous_action, previous_action_.rows(), truncations_ + 1);
    grow(truncated_.privileged, privileged_.rows(), truncations_ + 1);
    const Eigen::Index c = truncations_++;
    live.window_after(i, final_observation, false, truncated_.history.col(c));
    if (previous_action_.rows() > 0) truncated_.previous_action.col(c) = live.previous_action().col(i);
    for (Eigen::Index j = 0; j < privileged_.rows(); ++j) truncated_.privileged(j, c) = static_cast<S>(final_privileged(j));
  }
  Eigen::Index truncations() const noexcept { return truncations_; }
  const Batch& truncated() const noexcept { return truncated_; }

  /// Samples `indices` (k = step·n_envs + env) into the first columns of `batch`; windows are
  /// rebuilt from the timeline, zero before the newest episode start inside them.
  void gather(std::span<const Eigen::Index> indices, Batch& batch) const {
    const auto B = static_cast<Eigen::Index>(indices.size());
    const Eigen::Index T = needs_.history, C = shapes_.entry();
    fit(batch.history, T * C, B);
    fit(batch.previous_action, previous_action_.rows(), B);
    fit(batch.privileged, privileged_.rows(), B);
    for (Eigen::Index b = 0; b < B; ++b) {
      const Eigen::Index k = indices[static_cast<std::size_t>(b)], s = k / n_envs_, i = k % n_envs_;
      if (T > 0) {
        bool zero = false;  // walking from the newest entry back: everything before a start is zero
        for (Eigen::Index e = T; e-- > 0;) {
          const Eigen::Index u = slot(s + e, i);
          auto dst = batch.history.col(b).segment(e * C, C);
          if (zero) dst.setZero();
          else dst = timeline_.col(u);
          zero = zero || starts_[static_cast<std::size_t>(u)];
        }
      }
      if (previous_action_.rows() > 0) batch.previous_action.col(b) = previous_action_.col(k);
      if (privileged_.rows() > 0) batch.privileged.col(b) = privileged_.col(k);
    }
  }
  /// Samples [first, first + count) (a chunk of the whole rollout, for the value pass).
  void gather_range(Eigen::Index first, Eigen::Index count, Batch& batch) const {
    gather(std::span<const Eigen::Index>(all_).subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(count)),
           batch);
  }

  const ContextNeeds& needs() const noexcept { return needs_; }

 private:
  /// Timeline column of entry u (0 .. T − 2: carried; T − 1 + s: step s) of environment i.
  Eigen::Index slot(Eigen::Index u, Eigen::Index i) const noexcept { return u * n_envs_ + i; }
  static void fit(Matrix& m, Eigen::Index rows, Eigen::Index cols) {
    if (m.rows() != rows || m.cols() < cols) m.resize(rows, std::max(cols, m.cols()));
  }
  /// Columns added by doubling, so a steady state allocates nothing.
  static void grow(Matrix& m, Eigen::Index rows, Eigen::Index cols) {
    if (m.rows() != rows) m.resize(rows, std::max<Eigen::Index>(cols, 8));
    else if (m.cols() < cols) m.conservativeResize(rows, std::max(cols, 2 * m.cols()));
  }

  Eigen::Index n_steps_ = 0, n_envs_ = 0;
  Shapes shapes_{};
  ContextNeeds needs_{};
  Matrix timeline_, previous_action_, privileged_;
  std::vector<std::uint8_t> starts_;
  std::vector<Eigen::Index> all_;
  Batch truncated_;
  Eigen::Index truncations_ = 0;
};

}  // namespace spindle::policy
