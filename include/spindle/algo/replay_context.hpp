#pragma once
// What SAC's networks read besides the observation, for the transitions of a ReplayBuffer,
// without storing T-step windows: each transition keeps its previous action, its privileged
// values (and those of its next observation) and a link to the transition before it in the
// same episode. A window is rebuilt at sampling time by walking the links back from the
// transition: zeros before the episode's start, before a dropped transition, and where the
// predecessor has already been overwritten (the oldest T − 1 transitions of a full buffer).
// Memory per transition: act + 2·privileged scalars and one 64-bit link, next to the
// buffer's 2·obs + act + 2 (README).
#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <vector>

#include "../policy/history.hpp"
#include "replay_buffer.hpp"

namespace spindle::algo {

template <class S>
class ReplayContext {
 public:
  using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  /// A batch's context (features × B), for the observations and for the next observations.
  struct Batch {
    Matrix history, previous_action, privileged;
    Matrix next_history, next_previous_action, next_privileged;
  };

  ReplayContext() = default;
  ReplayContext(std::size_t capacity, Eigen::Index n_envs, policy::Shapes shapes, policy::ContextNeeds needs)
      : capacity_(capacity), shapes_(shapes), needs_(needs) {
    const auto N = static_cast<Eigen::Index>(capacity);
    previous_action_ = Matrix::Zero(needs.previous_action ? shapes.action : 0, N);
    privileged_ = Matrix::Zero(needs.privileged, N);
    next_privileged_ = Matrix::Zero(needs.privileged, N);
    if (needs.history > 0) link_.assign(capacity, -1);
    last_.assign(static_cast<std::size_t>(n_envs), -1);
  }

  /// Environment i's transition, stored by the ReplayBuffer at `slot` just now: `context`
  /// is what it acted on (live.previous_action / privileged of column i).
  template <class NextPrivileged>
  void add(std::size_t slot, Eigen::Index i, bool episode_start, const policy::LiveContext<S>& live,
           const NextPrivileged& next_privileged, bool done) {
    const auto k = static_cast<Eigen::Index>(slot);
    if (previous_action_.rows() > 0) previous_action_.col(k) = live.previous_action().col(i);
    if (privileged_.rows() > 0) {
      privileged_.col(k) = live.privileged().col(i);
      for (Eigen::Index j = 0; j < privileged_.rows(); ++j) next_privileged_(j, k) = static_cast<S>(next_privileged(j));
    }
    auto& last = last_[static_cast<std::size_t>(i)];
    if (!link_.empty()) link_[slot] = episode_start ? -1 : last;
    last = done ? -1 : added_;
    ++added_;
  }
  /// Environment i's transition was not stored (NaN/Inf): the next one starts a new chain.
  void dropped(Eigen::Index i) { last_[static_cast<std::size_t>(i)] = -1; }

  /// The contexts of transitions `slots` (as drawn by ReplayBuffer::sample) and of their next observations.
  void gather(const ReplayBuffer<S>& buffer, std::span<const std::size_t> slots, Batch& b) const {
    const auto B = static_cast<Eigen::Index>(slots.size());
    const Eigen::Index T = needs_.history, C = shapes_.entry(), O = shapes_.observation, A = shapes_.action;
    for (Matrix* m : {&b.history, &b.next_history}) m->resize(T * C, B);
    for (Matrix* m : {&b.previous_action, &b.next_previous_action}) m->resize(previous_action_.rows(), B);
    for (Matrix* m : {&b.privileged, &b.next_privileged}) m->resize(privileged_.rows(), B);
    auto& store = const_cast<ReplayBuffer<S>&>(buffer);  // read-only use of the raw storage
    for (Eigen::Index c = 0; c < B; ++c) {
      const std::size_t slot = slots[static_cast<std::size_t>(c)];
      const auto k = static_cast<Eigen::Index>(slot);
      if (previous_action_.rows() > 0) {
        b.previous_action.col(c) = previous_action_.col(k);
        for (Eigen::Index j = 0; j < A; ++j) b.next_previous_action(j, c) = store.actions()(slot, static_cast<std::size_t>(j));
      }
      if (privileged_.rows() > 0) {
        b.privileged.col(c) = privileged_.col(k);
        b.next_privileged.col(c) = next_privileged_.col(k);
      }
      if (T == 0) continue;
      // The next observation's window: [next obs; this action] newest, then this window's newest T − 1.
      auto next = b.next_history.col(c);
      for (Eigen::Index j = 0; j < O; ++j) next((T - 1) * C + j) = store.next_observations()(slot, static_cast<std::size_t>(j));
      for (Eigen::Index j = 0; j < A; ++j) next((T - 1) * C + O + j) = store.actions()(slot, static_cast<std::size_t>(j));
      auto window = b.history.col(c);
      std::int64_t at = count_of(slot);
      for (Eigen::Index e = T; e-- > 0;) {
        auto dst = window.segment(e * C, C);
        if (at < 0) {
          dst.setZero();
        } else {
          const auto s = static_cast<std::size_t>(at % static_cast<std::int64_t>(capacity_));
          for (Eigen::Index j = 0; j < O; ++j) dst(j) = store.observations()(s, static_cast<std::size_t>(j));
          dst.tail(A) = previous_action_.col(static_cast<Eigen::Index>(s));
          const std::int64_t p = link_[s];
          at = p >= 0 && p >= added_ - static_cast<std::int64_t>(capacity_) ? p : -1;  // overwritten: cut
        }
        if (e > 0) next.segment((e - 1) * C, C) = dst;
      }
    }
  }

  // checkpoints
  void save(StateWords& out) const {
    put_word(out, added_);
    for (auto v : last_) put_word(out, v);
    for (auto v : link_) put_word(out, v);
    for (const Matrix* m : {&previous_action_, &privileged_, &next_privileged_})
      for (Eigen::Index k = 0; k < m->size(); ++k) put_word(out, static_cast<double>(m->data()[k]));
  }
  void load(StateReader& in) {
    added_ = in.integer();
    for (auto& v : last_) v = in.integer();
    for (auto& v : link_) v = in.integer();
    for (Matrix* m : {&previous_action_, &privileged_, &next_privileged_})
      for (Eigen::Index k = 0; k < m->size(); ++k) m->data()[k] = static_cast<S>(in.real());
  }

 private:
  /// The insertion count of the transition now in `slot`.
  std::int64_t count_of(std::size_t slot) const noexcept {
    const auto N = static_cast<std::int64_t>(capacity_), s = static_cast<std::int64_t>(slot);
    const std::int64_t newest = added_ - 1, newest_slot = newest % N;
    return s <= newest_slot ? newest - (newest_slot - s) : newest - (newest_slot + N - s);
  }

  std::size_t capacity_ = 0;
  policy::Shapes shapes_{};
  policy::ContextNeeds needs_{};
  Matrix previous_action_, privileged_, next_privileged_;
  std::vector<std::int64_t> link_;  // per slot: the count of the previous transition of its episode, −1: none
  std::vector<std::int64_t> last_;  // per environment: the count of its last stored transition this episode
  std::int64_t added_ = 0;
};

}  // namespace spindle::algo
