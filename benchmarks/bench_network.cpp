// Network kernels: spindle's tape (autodiff + nn) next to a hand-written Eigen
// floor doing the same math, in one binary so ratios come from one run.
//   <case>/spindle : Mlp forward on a Tape; train = forward + MSE + backward + Adam
//   <case>/floor   : noalias products, bias and activation in separate passes,
//                    manual backward, one-pass chunked Adam — no tape, no norm check
//   peak/fma_<s>   : the core's FMA peak, measured by a register-only kernel (roofline)
// Train cases report GFLOP/s (the products' multiply-adds: forward, input gradients, weight
// gradients) and of_peak, their fraction of the measured FMA peak.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <spindle/autodiff.hpp>
#include <spindle/nn.hpp>
#include <string>
#include <vector>

using namespace spindle;
using autodiff::Activation;

namespace {

template <class S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

// ---------------------------------------------------------------- roofline
// A register-only kernel: 16 independent FMA chains on SIMD packets (enough to cover the FMA
// latency on two ports), no memory traffic. Returns flops per call.
template <class S>
double fma_kernel(long rounds, S* sink) {
  using P = typename Eigen::internal::packet_traits<S>::type;
  constexpr int chains = 16, width = Eigen::internal::packet_traits<S>::size;
  P acc[chains];
  for (int i = 0; i < chains; ++i) acc[i] = Eigen::internal::pset1<P>(S(1) + S(i) * S(1e-3));
  const P a = Eigen::internal::pset1<P>(S(0.999999)), b = Eigen::internal::pset1<P>(S(1e-7));
  for (long r = 0; r < rounds; ++r)
    for (int i = 0; i < chains; ++i) acc[i] = Eigen::internal::pmadd(acc[i], a, b);
  P total = acc[0];
  for (int i = 1; i < chains; ++i) total = Eigen::internal::padd(total, acc[i]);
  *sink = Eigen::internal::predux(total);
  return 2.0 * chains * width * static_cast<double>(rounds);
}

template <class S>
void fma_peak(benchmark::State& state) {
  S sink{};
  double flops = 0;
  for (auto _ : state) {
    flops = fma_kernel<S>(100'000, &sink);
    benchmark::DoNotOptimize(sink);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/// The FMA peak in flop/s, measured once (~0.2 s) for the of_peak counters.
template <class S>
double measured_peak() {
  static const double peak = [] {
    S sink{};
    double best = 0;
    for (int k = 0; k < 20; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      const double flops = fma_kernel<S>(200'000, &sink);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, flops / seconds);
    }
    benchmark::DoNotOptimize(sink);
    return best;
  }();
  return peak;
}

/// Multiply-add flops of one train step: forward, input gradients (not of the first layer's input)
/// and weight gradients of every layer, 2 flops per multiply-add.
inline double train_flops(const std::vector<Eigen::Index>& sizes, Eigen::Index batch) {
  double flops = 0;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l)
    flops += 2.0 * double(sizes[l] * sizes[l + 1] * batch) * (l == 0 ? 2.0 : 3.0);
  return flops;
}

template <class S>
void roofline_counters(benchmark::State& state, const std::vector<Eigen::Index>& sizes, Eigen::Index batch) {
  const double flops = train_flops(sizes, batch);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["of_peak"] = benchmark::Counter(flops / measured_peak<S>(), benchmark::Counter::kIsIterationInvariantRate);
}

// ---------------------------------------------------------------- the floor
template <class S>
struct FloorMlp {
  std::vector<Mat<S>> W, dW, mW, vW;
  std::vector<Mat<S>> b, db, mb, vb;
  std::vector<Mat<S>> out;  // layer outputs (post-activation)
  std::vector<Mat<S>> delta;
  Activation act;
  long t = 0;

  FloorMlp(const std::vector<Eigen::Index>& sizes, Activation a, Eigen::Index batch) : act(a) {
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      W.push_back(Mat<S>::Random(sizes[l + 1], sizes[l]) * S(0.1));
      b.push_back(Mat<S>::Random(sizes[l + 1], 1) * S(0.1));
      dW.push_back(Mat<S>::Zero(sizes[l + 1], sizes[l]));
      db.push_back(Mat<S>::Zero(sizes[l + 1], 1));
      mW.push_back(dW.back());
      vW.push_back(dW.back());
      mb.push_back(db.back());
      vb.push_back(db.back());
      out.push_back(Mat<S>::Zero(sizes[l + 1], batch));
      delta.push_back(Mat<S>::Zero(sizes[l + 1], batch));
    }
  }
  void activate(Mat<S>& z) const {
    if (act == Activation::tanh) z = z.array().tanh();
    else z = z.array().max(S(0));
  }
  template <class X>
  const Mat<S>& forward(const X& x) {
    const std::size_t L = W.size();
    for (std::size_t l = 0; l < L; ++l) {
      if (l == 0) out[l].noalias() = W[l] * x;
      else out[l].noalias() = W[l] * out[l - 1];
      out[l].colwise() += b[l].col(0);
      if (l + 1 < L) activate(out[l]);
    }
    return out.back();
  }
  template <class X>
  void train_step(const X& x, const Mat<S>& y) {
    const std::size_t L = W.size();
    forward(x);
    const S scale = S(2) / static_cast<S>(y.size());
    delta[L - 1] = (out[L - 1] - y) * scale;  // d(mean squared error)
    for (std::size_t l = L; l-- > 0;) {
      if (l + 1 < L) {
        if (act == Activation::tanh) delta[l].array() *= 1 - out[l].array().square();
        else delta[l] = (out[l].array() > S(0)).select(delta[l], S(0));
      }
      if (l == 0) dW[l].noalias() = delta[l] * x.transpose();
      else dW[l].noalias() = delta[l] * out[l - 1].transpose();
      db[l] = delta[l].rowwise().sum();
      if (l > 0) delta[l - 1].noalias() = W[l].transpose() * delta[l];
    }
    ++t;
    const S b1 = S(0.9), b2 = S(0.999), lr = S(1e-3), eps = S(1e-8);
    const S step = lr / S(1 - std::pow(0.9, double(t)));
    const S inv = S(1 / std::sqrt(1 - std::pow(0.999, double(t))));
    auto adam = [&](Mat<S>& p, const Mat<S>& g, Mat<S>& m, Mat<S>& v) {
      auto P = p.array();
      auto M = m.array();
      auto V = v.array();
      M = b1 * M + (1 - b1) * g.array();
      V = b2 * V + (1 - b2) * g.array().square();
      P -= step * M / (V.sqrt() * inv + eps);
    };
    for (std::size_t l = 0; l < L; ++l) {
      adam(W[l], dW[l], mW[l], vW[l]);
      adam(b[l], db[l], mb[l], vb[l]);
    }
  }
};

// ---------------------------------------------------------------- cases
template <class S>
void forward_spindle(benchmark::State& state, std::vector<Eigen::Index> sizes, Activation act, Eigen::Index batch) {
  Rng rng(0);
  nn::Mlp<S> mlp({.sizes = sizes, .hidden = act}, rng);
  autodiff::Tape<S> tape;
  tape.set_grad_enabled(false);
  Mat<S> x = Mat<S>::Random(sizes.front(), batch);
  for (auto _ : state) {
    tape.clear();
    auto y = mlp(tape.view(x.data(), x.rows(), x.cols()));
    benchmark::DoNotOptimize(tape.node(y.id).value);
    benchmark::ClobberMemory();
  }
}
template <class S>
void forward_floor(benchmark::State& state, std::vector<Eigen::Index> sizes, Activation act, Eigen::Index batch) {
  FloorMlp<S> f(sizes, act, batch);
  Mat<S> x = Mat<S>::Random(sizes.front(), batch);
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.forward(x).data());
    benchmark::ClobberMemory();
  }
}
template <class S>
void train_spindle(benchmark::State& state, std::vector<Eigen::Index> sizes, Activation act, Eigen::Index batch) {
  Rng rng(0);
  nn::Mlp<S> mlp({.sizes = sizes, .hidden = act}, rng);
  nn::Adam<S> adam(mlp.parameters(), {.lr = 1e-3});
  autodiff::Tape<S> tape;
  Mat<S> x = Mat<S>::Random(sizes.front(), batch), y = Mat<S>::Random(sizes.back(), batch);
  for (auto _ : state) {
    tape.clear();
    mlp.parameters().zero_grad();
    auto pred = mlp(tape.view(x.data(), x.rows(), x.cols()));
    auto loss = autodiff::mean(autodiff::square(pred - tape.view(y.data(), y.rows(), y.cols())));
    tape.backward(loss);
    adam.step(mlp.parameters());
    benchmark::ClobberMemory();
  }
  roofline_counters<S>(state, sizes, batch);
}
template <class S>
void train_floor(benchmark::State& state, std::vector<Eigen::Index> sizes, Activation act, Eigen::Index batch) {
  FloorMlp<S> f(sizes, act, batch);
  Mat<S> x = Mat<S>::Random(sizes.front(), batch), y = Mat<S>::Random(sizes.back(), batch);
  for (auto _ : state) {
    f.train_step(x, y);
    benchmark::ClobberMemory();
  }
  roofline_counters<S>(state, sizes, batch);
}

template <class S>
void register_cases(const std::string& scalar) {
  benchmark::RegisterBenchmark(("peak/fma_" + scalar).c_str(), fma_peak<S>);
  const std::vector<std::vector<Eigen::Index>> nets = {{3, 64, 64, 1}, {27, 256, 256, 8}};
  for (const auto& sizes : nets) {
    std::string net = "mlp";
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      if (i) net += 'x';
      net += std::to_string(sizes[i]);
    }
    for (Activation act : {Activation::tanh, Activation::relu}) {
      const std::string base = net + "/" + std::string(autodiff::to_string(act)) + "/" + scalar + "/";
      for (Eigen::Index batch : {1, 16}) {
        const std::string c = base + "forward_b" + std::to_string(batch);
        benchmark::RegisterBenchmark((c + "/spindle").c_str(), forward_spindle<S>, sizes, act, batch);
        benchmark::RegisterBenchmark((c + "/floor").c_str(), forward_floor<S>, sizes, act, batch);
      }
      const std::string c = base + "train_b256";
      benchmark::RegisterBenchmark((c + "/spindle").c_str(), train_spindle<S>, sizes, act, Eigen::Index{256});
      benchmark::RegisterBenchmark((c + "/floor").c_str(), train_floor<S>, sizes, act, Eigen::Index{256});
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Eigen::setNbThreads(1);  // threads hurt at these sizes; the network math runs on one thread
  register_cases<float>("f32");
  register_cases<double>("f64");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
