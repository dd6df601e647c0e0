#pragma once
// Pink (1/f^β, β = 1 by default) Gaussian noise, as in Eberhard et al., "Pink noise is all
// you need" (ICLR 2023): each stream and action dimension reads a precomputed sequence of
// `horizon` samples whose power spectrum falls as f^−β, normalised to unit variance; a new
// sequence is drawn when one runs out or the stream is restarted (episode end).
// Sequences come from Gaussian Fourier coefficients scaled by f^−β/2 and an inverse real
// FFT (the method of Timmer & König, as the `colorednoise` package implements it).
#include <complex>
#include <stdexcept>
#include <unsupported/Eigen/FFT>
#include <vector>

#include "../autodiff/tape.hpp"
#include "../core/rng.hpp"

namespace spindle::noise {

template <class S>
class PinkNoise {
 public:
  struct Config {
    double exponent = 1.0;      // β: 0 white, 1 pink, 2 red (Brownian)
    Eigen::Index horizon = 1000;  // sequence length: the episode length is a good choice
    double min_frequency = 0.0;   // frequencies below max(this, 1/horizon) are flattened
    /// Every field by name (checkpoints of deployable policies).
    template <class F> void fields(F&& f) { f("exponent", exponent); f("horizon", horizon); f("min_frequency", min_frequency); }
  };
  static constexpr const char* name = "pink";
  explicit PinkNoise(Config c = {}) : config_(c) {
    if (c.horizon < 2) throw std::invalid_argument("PinkNoise: horizon must be at least 2");
    const Eigen::Index T = c.horizon, nf = T / 2 + 1;
    scale_.resize(nf);
    const double fmin = std::max(c.min_frequency, 1.0 / static_cast<double>(T));
    double w2 = 0;
    for (Eigen::Index k = 0; k < nf; ++k) {
      const double f = std::max(static_cast<double>(k) / static_cast<double>(T), fmin);
      scale_[k] = std::pow(f, -c.exponent / 2);
      if (k > 0) w2 += scale_[k] * scale_[k] * ((k == nf - 1 && T % 2 == 0) ? 0.25 : 1.0);
    }
    // Expected standard deviation of the unnormalised sequence (numpy's irfft scaling 1/T).
    sigma_ = 2 * std::sqrt(w2) / static_cast<double>(T);
    spectrum_.resize(static_cast<std::size_t>(nf));
    fft_.SetFlag(Eigen::FFT<double>::HalfSpectrum);
  }

  void resize(Eigen::Index dim, Eigen::Index streams, Rng& rng) {
    if (dim_ == dim && position_.size() == static_cast<std::size_t>(streams)) return;
    dim_ = dim;
    sequences_.resize(config_.horizon, dim * streams);
    position_.assign(static_cast<std::size_t>(streams), 0);
    for (Eigen::Index i = 0; i < streams; ++i) refill(i, rng);
  }

  void next(Eigen::Ref<autodiff::Matrix<S>> out, Rng& rng) {
    for (Eigen::Index i = 0; i < out.cols(); ++i) {
      auto& pos = position_[static_cast<std::size_t>(i)];
      if (pos == config_.horizon) refill(i, rng);
      for (Eigen::Index k = 0; k < dim_; ++k) out(k, i) = static_cast<S>(sequences_(pos, i * dim_ + k));
      ++pos;
    }
  }

  /// Starts stream i on a fresh sequence (an episode ended); streams not yet sized are ignored.
  void restart(Eigen::Index stream, Rng& rng) {
    if (stream >= 0 && static_cast<std::size_t>(stream) < position_.size()) refill(stream, rng);
  }

  /// One unit-variance sequence of `horizon` samples (also used by the spectrum test).
  void draw_sequence(Eigen::Ref<Eigen::VectorXd> out, Rng& rng) {
    const Eigen::Index T = config_.horizon, nf = T / 2 + 1;
    for (Eigen::Index k = 0; k < nf; ++k) {
      double re = scale_[k] * rng.normal<double>(), im = scale_[k] * rng.normal<double>();
      if (k == 0 || (T % 2 == 0 && k == nf - 1)) {  // real-valued bins carry the whole variance
        re *= std::sqrt(2.0);
        im = 0;
      }
      spectrum_[static_cast<std::size_t>(k)] = {re, im};
    }
    fft_.inv(time_, spectrum_, T);  // scales by 1/T like numpy.fft.irfft
    for (Eigen::Index t = 0; t < T; ++t) out(t) = time_[static_cast<std::size_t>(t)] / sigma_;
  }

  const Config& config() const noexcept { return config_; }

 private:
  void refill(Eigen::Index stream, Rng& rng) {
    for (Eigen::Index k = 0; k < dim_; ++k) draw_sequence(sequences_.col(stream * dim_ + k), rng);
    position_[static_cast<std::size_t>(stream)] = 0;
  }

  Config config_;
  Eigen::VectorXd scale_;
  double sigma_ = 1;
  Eigen::Index dim_ = 0;
  Eigen::MatrixXd sequences_;  // horizon × (streams · dim)
  std::vector<Eigen::Index> position_;
  std::vector<std::complex<double>> spectrum_;
  std::vector<double> time_;
  Eigen::FFT<double> fft_;
};

}  // namespace spindle::noise
