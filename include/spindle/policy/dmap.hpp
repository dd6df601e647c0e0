#pragma once
// policy::Dmap: the distributed morphological attention policy (Chiappa, Marin Vargas, Mathis,
// NeurIPS 2022; ../shared/specs/dmap.md), an actor for bodies that change without being told.
//
//  1. Every scalar of the history window — each observation entry and each previous action — is
//     a channel: a length-T time series. One encoder, its weights shared by all channels, maps
//     each series to a code (1-D convolutions, then an MLP; ReLU throughout).
//  2. From its code each channel emits a key (one logit per actuator) and a value (E numbers).
//  3. Per actuator i, a softmax over the channels of its logits gives the attention α_i·, and
//     the actuator's embedding is e_i = Σ_j α_ij v_j. The query is the actuator's index itself.
//  4. One small controller per actuator reads [x_t; a_{t−1}; e_i]. All A controllers run as
//     grouped (block-diagonal) products, and the noise head's mean (and log-std) layers are
//     per-actuator too (head_groups()), so actuator i's action depends on the others' only
//     through the shared state x_t and a_{t−1}.
// The attention is a function of the set of channels: permuting the channels permutes α's
// columns and leaves every embedding unchanged. DMAP-ne (ablate_embedding) zeroes e and a_{t−1}.
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "../autodiff/attention.hpp"
#include "../autodiff/grouped.hpp"
#include "../nn/conv.hpp"
#include "network.hpp"
#include "tcn.hpp"

namespace spindle::policy {

struct Dmap {
  static constexpr bool previous_action = true;
  using Convolution = Tcn::Convolution;

  struct Config {
    Eigen::Index history = 30;                                  // T
    Eigen::Index filters = 32;                                  // per convolution
    std::vector<Convolution> convolutions = {{5, 4}, {3, 1}, {3, 1}};
    std::vector<Eigen::Index> encoder_hidden = {128};           // after the flattened convolutions
    Eigen::Index code_size = 32;                                // a channel's code (keys and values read it)
    Eigen::Index embedding = 4;                                 // E: the values' size
    std::vector<Eigen::Index> controller_hidden = {32, 32};     // each actuator's controller
    autodiff::Activation controller_activation = autodiff::Activation::relu;
    autodiff::KeyLayout keys = autodiff::KeyLayout::transpose;  // reshape: the released code's keys

    /// The paper's sizes (T 30, 32 filters k5 s4 · k3 · k3, FC 128 → 32, E 4, controllers 32×32).
    static Config paper() { return {}; }
    /// The 2-core budget of the spec: T 16, 16 filters (k4 s2 · k3 · k3), FC 64 → 16, E 4, 32×32.
    static Config budget() {
      return {.history = 16, .filters = 16, .convolutions = {{4, 2}, {3, 1}, {3, 1}}, .encoder_hidden = {64},
              .code_size = 16};
    }
  };

  std::vector<nn::Conv1d> convolutions;
  nn::MlpStack encoder;
  nn::Dense key, value;
  int state_weight = -1;             // controllers' first layer on [x; a_{t−1}], all actuators stacked
  nn::Dense embedding_in;            // … and on each e_i (grouped, with the layer's bias)
  std::vector<nn::Dense> controller; // the further grouped layers
  Eigen::Index length = 0, channels = 0, actions = 0, observations = 0, latent = 0;
  autodiff::Activation activation = autodiff::Activation::relu;
  autodiff::KeyLayout keys = autodiff::KeyLayout::transpose;
  /// DMAP-ne: evaluate with every embedding and the previous action zeroed.
  bool ablate_embedding = false;

  template <class S>
  static Dmap create(nn::Parameters<S>& p, const Build& b, const Config& c, Rng& rng) {
    if (b.role != Role::actor)
      throw std::invalid_argument("Dmap: an actor architecture; its critics are PrivilegedCritic (the paper's), "
                                  "HistoryMlp or Mlp");
    if (b.shapes.action <= 0 || b.shapes.observation <= 0)
      throw std::invalid_argument("Dmap: needs observations and actions");
    if (c.history <= 0 || c.filters <= 0 || c.code_size <= 0 || c.embedding <= 0 || c.controller_hidden.empty())
      throw std::invalid_argument("Dmap: history, filters, code_size, embedding and the controllers' sizes must be set");
    if (c.convolutions.empty()) throw std::invalid_argument("Dmap: the encoder needs at least one convolution");
    for (Eigen::Index h : c.controller_hidden)
      if (h <= 0) throw std::invalid_argument("Dmap: controller sizes must be positive");
    Dmap d;
    d.length = c.history;
    d.actions = b.shapes.action;
    d.observations = b.shapes.observation;
    d.channels = b.shapes.entry();
    d.activation = c.controller_activation;
    d.keys = c.keys;
    const std::string pre = b.prefix + "dmap.";
    // The shared per-channel encoder: one input channel of T steps.
    Eigen::Index in_channels = 1, steps = c.history;
    for (std::size_t i = 0; i < c.convolutions.size(); ++i) {
      const Convolution& conv = c.convolutions[i];
      d.convolutions.push_back(nn::Conv1d::create(p, pre + "conv" + std::to_string(i), in_channels, c.filters,
                                                  conv.kernel, conv.stride, autodiff::Activation::relu, rng));
      const Eigen::Index next = d.convolutions.back().output_length(steps);
      if (next <= 0)
        throw std::invalid_argument("Dmap: a history of " + std::to_string(c.history) +
                                    " steps is shorter than the encoder's receptive field: convolution " + std::to_string(i) +
                                    " (kernel " + std::to_string(conv.kernel) + ") gets " + std::to_string(steps) + " steps");
      in_channels = c.filters;
      steps = next;
    }
    std::vector<Eigen::Index> sizes{in_channels * steps};
    sizes.insert(sizes.end(), c.encoder_hidden.begin(), c.encoder_hidden.end());
    sizes.push_back(c.code_size);
    d.encoder = nn::MlpStack::create(p, pre + "encoder.",
                                     {.sizes = sizes, .hidden = autodiff::Activation::relu,
                                      .output = autodiff::Activation::relu, .init = nn::Init::pytorch_default},
                                     rng);
    d.key = nn::Dense::create(p, pre + "key", c.code_size, d.actions, autodiff::Activation::identity);
    nn::init_dense(p, d.key, nn::Init::pytorch_default, 1.0, rng);
    d.value = nn::Dense::create(p, pre + "value", c.code_size, c.embedding, autodiff::Activation::identity);
    nn::init_dense(p, d.value, nn::Init::pytorch_default, 1.0, rng);
    // Controller layer 0 is one Linear([x; a; e_i] → H) per actuator, split into its shared part
    // (a dense product for all actuators at once) and its per-actuator part; PyTorch's fan-in bound.
    const Eigen::Index H = c.controller_hidden.front(), A = d.actions, E = c.embedding;
    d.state_weight = p.add(pre + "controller0.state.weight", A * H, d.channels);
    d.embedding_in = nn::Dense::create(p, pre + "controller0.embedding", A * E, A * H, autodiff::Activation::identity, A);
    const double bound = 1.0 / std::sqrt(static_cast<double>(d.channels + E));
    auto fill = [&](auto&& M) {
      for (Eigen::Index j = 0; j < M.cols(); ++j)
        for (Eigen::Index i = 0; i < M.rows(); ++i) M(i, j) = static_cast<S>(rng.uniform(-bound, bound));
    };
    fill(p.value(d.state_weight));
    fill(p.value(d.embedding_in.weight));
    fill(p.value(d.embedding_in.bias));
    Eigen::Index width = H;
    for (std::size_t l = 1; l < c.controller_hidden.size(); ++l) {
      const Eigen::Index next = c.controller_hidden[l];
      d.controller.push_back(nn::Dense::create(p, pre + "controller" + std::to_string(l), A * width, A * next,
                                               d.activation, A));
      nn::init_dense(p, d.controller.back(), nn::Init::pytorch_default, 1.0, rng);
      width = next;
    }
    d.latent = A * width;
    return d;
  }

  Eigen::Index history_length() const noexcept { return length; }
  /// The latent the noise head reads: every actuator's last controller layer, stacked.
  Eigen::Index latent_size() const noexcept { return latent; }
  /// One head group per actuator: actuator i's mean (and log-std) read only its own block.
  Eigen::Index head_groups() const noexcept { return actions; }

  /// The attention α (A × (C·B): sample b's channels in columns [C·b, C·(b+1)), each row of a
  /// sample summing to 1) and the channels' values (E × (C·B)) for a batch of windows.
  template <class S>
  struct Attention {
    autodiff::Var<S> weights, values;
  };
  template <class S>
  Attention<S> attend(nn::Parameters<S>& p, autodiff::Var<S> window) const {
    window = newest(window, length, channels);
    if (window.rows() != length * channels)
      throw shape_error("Dmap: a history window of " + std::to_string(window.rows()) + " rows, expected " +
                        std::to_string(length) + " entries of " + std::to_string(channels));
    const Eigen::Index B = window.cols();
    // Channel-major per sample, then one column per (channel, sample): the encoder's batch.
    autodiff::Var<S> x =
        autodiff::reshape(autodiff::transpose_blocks(window, channels, length), length, channels * B);
    Eigen::Index steps = length;
    for (const nn::Conv1d& conv : convolutions) {
      x = conv(p, x, steps);
      steps = conv.output_length(steps);
    }
    const autodiff::Var<S> code = encoder(p, x);
    return {autodiff::channel_softmax(key(p, code), channels, keys), value(p, code)};
  }
  /// The embeddings e ((A·E) × B, actuator-major) of a batch of windows.
  template <class S>
  autodiff::Var<S> embeddings(nn::Parameters<S>& p, autodiff::Var<S> window) const {
    const Attention<S> a = attend(p, window);
    return autodiff::attention_pool(a.weights, a.values, channels);
  }
  /// The attention weights (A × (C·B)) of windows ((T·C) × B, e.g. Ppo::predict_context().window()),
  /// for inspection: a private tape, no gradients.
  template <class S, class Derived>
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> attention_weights(nn::Parameters<S>& p,
                                                                     const Eigen::MatrixBase<Derived>& windows) const {
    autodiff::Tape<S> t;
    t.set_grad_enabled(false);
    const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> w = windows;  // contiguous for the view
    return attend(p, t.view(w.data(), w.rows(), w.cols())).weights.value();
  }

  template <class S>
  autodiff::Var<S> operator()(nn::Parameters<S>& p, const Inputs<S>& in) const {
    autodiff::Tape<S>& t = *in.observation.tape;
    if (in.previous_action.rows() != actions || in.observation.rows() != observations)
      throw shape_error("Dmap: built for " + std::to_string(observations) + " observations and " +
                        std::to_string(actions) + " actions, called with " + std::to_string(in.observation.rows()) +
                        " and " + std::to_string(in.previous_action.rows()));
    autodiff::Var<S> e = embeddings(p, in.history);
    autodiff::Var<S> previous = in.previous_action;
    if (ablate_embedding) {
      e = e * S(0);
      previous = previous * S(0);
    }
    const autodiff::Var<S> state = autodiff::concat_rows(in.observation, previous);
    autodiff::Var<S> h = autodiff::activate(
        autodiff::matmul(p.on(t, state_weight), state) +
            autodiff::grouped_linear(e, p.on(t, embedding_in.weight), p.on(t, embedding_in.bias), actions),
        activation);
    for (const nn::Dense& d : controller) h = d(p, h);
    return h;
  }
};

}  // namespace spindle::policy
