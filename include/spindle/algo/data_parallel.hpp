#pragma once
// What data-parallel PPO and recurrent PPO share (Ppo::distribute, RecurrentPpo::distribute):
// the gradient averaged over the ranks in one sum, advantage moments merged over the ranks,
// VecNormalize statistics merged after each rollout, identity checks, and the checkpoint layout
// (rank 0's run state under "run_state", rank r's under "run_state.rank<r>"). Inactive (every
// call a no-op or the single-process answer) until attach().
#include <cmath>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../io/checkpoint.hpp"
#include "../nn/optim.hpp"
#include "../nn/parameters.hpp"
#include "common.hpp"
#include "communicator.hpp"

namespace spindle::algo {

template <class S>
class DataParallel {
 public:
  using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

  /// Joins the group after checking that every rank was built alike (`shape`: the sizes that
  /// must agree, described by `what`); returns this rank's seed (rank_seed).
  std::uint64_t attach(std::shared_ptr<Communicator> comm, DistributeOptions options, std::span<const std::uint64_t> shape,
                       const std::string& what, std::uint64_t seed) {
    if (!comm) throw std::invalid_argument("distribute: no communicator");
    check_identical(*comm, checksum(shape), what, 0);
    comm_ = std::move(comm);
    options_ = options;
    return rank_seed(seed, comm_->rank());
  }
  bool active() const noexcept { return comm_ != nullptr; }
  int ranks() const noexcept { return comm_ ? comm_->size() : 1; }
  int rank() const noexcept { return comm_ ? comm_->rank() : 0; }
  const std::shared_ptr<Communicator>& communicator() const noexcept { return comm_; }
  Communicator& comm() const noexcept { return *comm_; }

  /// The longest of the ranks' counts (every rank then takes as many minibatches).
  long longest(long count) const { return comm_ ? comm_->max(count) : count; }

  /// Mean and unbiased standard deviation of the advantages of every rank's minibatch, from
  /// each rank's count, mean and Σ(x − mean)² (Chan's merge in rank order: the same numbers on
  /// every rank). `count` is the whole minibatch's.
  struct Moments {
    double count = 0, mean = 0, std = 0;
  };
  Moments merged_moments(double count, double mean, double m2) {
    const double mine[3] = {count, mean, m2};
    moments_.resize(3 * static_cast<std::size_t>(ranks()));
    comm_->all_gather(std::span<const double>(mine), moments_);
    return merge_moments(moments_.data(), 3);
  }

  /// PPO: every rank's (count, mean, Σ(x − mean)²) of each of an epoch's minibatches (`mine`: 3
  /// numbers per minibatch, the same number of minibatches on every rank), gathered in one call
  /// before the epoch, so that a gradient step needs no other collective than its gradient sum.
  void gather_epoch_moments(std::span<const double> mine) {
    epoch_stride_ = mine.size();
    epoch_moments_.resize(mine.size() * static_cast<std::size_t>(ranks()));
    comm_->all_gather(mine, epoch_moments_);
  }
  /// Minibatch k's advantage moments over every rank (as merged_moments).
  Moments epoch_moments(std::size_t k) const { return merge_moments(epoch_moments_.data() + 3 * k, epoch_stride_); }
  /// Minibatch k's weight summed over the ranks (each rank's: its share of a full minibatch).
  S epoch_weight(std::size_t k, Eigen::Index batch_size) const {
    S total = 0;
    for (int r = 0; r < ranks(); ++r)
      total += static_cast<S>(epoch_moments_[static_cast<std::size_t>(r) * epoch_stride_ + 3 * k]) / static_cast<S>(batch_size);
    return total;
  }

  /// Replaces this rank's gradient (of its minibatch's mean loss, `weight` = its share of a full
  /// minibatch: 1 when full) with the gradient of the mean loss over every rank's minibatch:
  /// summed in place over the ranks, then divided by the summed weights, which travel with the
  /// KL estimate in a second, two-number sum (returned: the whole minibatch's KL, weighted alike).
  double average(nn::Parameters<S>& params, S weight, double kl) {
    S totals[2] = {weight, static_cast<S>(weight * kl)};
    comm_->sum(std::span<S>(totals));
    average(params, weight, totals[0]);
    return static_cast<double>(totals[1] / totals[0]);
  }
  /// The same with the summed weights already known (epoch_weight): one sum, of the gradient.
  void average(nn::Parameters<S>& params, S weight, S total_weight) {
    auto& g = params.grads();
    if (weight != S(1)) g *= weight;  // a full minibatch (the usual case) is summed as it is
    comm_->sum(std::span<S>(g.data(), static_cast<std::size_t>(g.size())));
    g /= total_weight;
  }
  /// Σ_r weight_r · value_r / total_weight: a minibatch statistic (the KL for target_kl) over every rank.
  double weighted_mean(S weight, double value, S total_weight) {
    S x = static_cast<S>(weight * value);
    comm_->sum(std::span<S>(&x, 1));
    return static_cast<double>(x / total_weight);
  }

  /// Normalisation statistics: from now on gathered per rank and merged by merge_statistics().
  template <class Envs>
  void start_statistics(Envs& envs, const RunningMeanStd& obs, const RunningMeanStd& ret) {
    envs.set_merged_statistics(obs, ret);
    obs_base_ = obs;
    ret_base_ = ret;
  }
  /// After a rollout: what every rank added, merged into the last merge's statistics.
  template <class Envs>
  void merge_statistics(Envs& envs) {
    RunningMeanStd obs = obs_base_, ret = ret_base_;
    merge_across_ranks(*comm_, obs, envs.obs_increment(), scratch_);
    merge_across_ranks(*comm_, ret, envs.ret_increment(), scratch_);
    start_statistics(envs, obs, ret);
  }

  /// Throws unless every rank holds the same parameters, optimizer moments and statistics.
  template <class Envs>
  void check(const nn::Parameters<S>& params, const nn::Adam<S>& optimizer, const Envs& envs, long update) const {
    const auto words = [](const auto& v) {
      return std::span<const typename std::decay_t<decltype(v)>::Scalar>(v.data(), static_cast<std::size_t>(v.size()));
    };
    std::uint64_t h = checksum(words(params.values()));
    h = checksum(words(optimizer.first_moment()), h);
    h = checksum(words(optimizer.second_moment()), h);
    check_identical(*comm_, h, "parameters or optimizer states", update);
    std::uint64_t stats = checksum(words(envs.obs_rms().mean()));
    stats = checksum(words(envs.obs_rms().var()), stats);
    stats = checksum(words(envs.ret_rms().var()), stats);
    check_identical(*comm_, stats, "normalisation statistics", update);
  }
  /// True after every `check_every`-th update (PPO's default: every update).
  bool check_due() noexcept {
    const long every = options_.check_every < 0 ? 1 : options_.check_every;
    return comm_ && every > 0 && ++updates_ % every == 0;
  }

  /// The checkpoint array of a rank's run state ("run_state" for rank 0 and single processes).
  static std::string run_state_key(int rank) {
    return rank == 0 ? std::string("run_state") : "run_state.rank" + std::to_string(rank);
  }
  /// Every rank's run state into rank 0's checkpoint; false on the other ranks (which write nothing).
  bool put_run_states(io::Checkpoint& c, const StateWords& mine) const {
    const std::vector<StateWords> states = comm_->gather(mine, 0);
    if (comm_->rank() != 0) return false;
    c.put_scalar("distributed.ranks", std::int64_t{comm_->size()});
    for (std::size_t r = 0; r < states.size(); ++r) put_state(c, run_state_key(static_cast<int>(r)), states[r]);
    return true;
  }
  /// Rank 0 writes the checkpoint (`write`); every rank returns or throws alike.
  template <class Write>
  void write_on_root(const std::filesystem::path& path, Write&& write, const char* who) const {
    std::string error;
    if (comm_->rank() == 0) try {
        write();
      } catch (const std::exception& e) {
        error = e.what();
      }
    std::uint64_t failed = error.empty() ? 0 : 1;
    comm_->broadcast(std::as_writable_bytes(std::span<std::uint64_t>(&failed, 1)), 0);
    if (failed)
      throw std::runtime_error(comm_->rank() == 0 ? error : std::string(who) + ": rank 0 could not write '" + path.string() + "'");
  }
  /// Throws unless a checkpoint was written by as many ranks as this run has.
  void check_ranks(const io::Checkpoint& c, const std::filesystem::path& path, const char* who) const {
    if (!comm_) return;
    const std::int64_t n = c.contains("distributed.ranks") ? c.get_scalar<std::int64_t>("distributed.ranks") : 1;
    if (n != comm_->size())
      throw std::runtime_error(std::string(who) + ": '" + path.string() + "' was written by a run of " + std::to_string(n) +
                               " rank(s); this run has " + std::to_string(comm_->size()) +
                               " (resume with as many ranks; a single process can load it to evaluate)");
  }

 private:
  /// Chan's merge in rank order of the (count, mean, Σ(x − mean)²) triples `stride` apart.
  Moments merge_moments(const double* data, std::size_t stride) const {
    double n = 0, mu = 0, sq = 0;
    for (int r = 0; r < ranks(); ++r) {
      const double* m = data + static_cast<std::size_t>(r) * stride;
      if (m[0] == 0) continue;
      const double total = n + m[0], delta = m[1] - mu;
      sq += m[2] + delta * delta * n * m[0] / total;
      mu += delta * m[0] / total;
      n = total;
    }
    return {n, mu, n > 1 ? std::sqrt(sq / (n - 1)) : 0.0};
  }

  std::shared_ptr<Communicator> comm_;
  DistributeOptions options_;
  long updates_ = 0;
  RunningMeanStd obs_base_, ret_base_;
  std::vector<double> moments_, scratch_, epoch_moments_;
  std::size_t epoch_stride_ = 0;
};

}  // namespace spindle::algo
