// Recurrent kernels: spindle's LSTM on the tape next to a hand-written Eigen floor doing the
// same math, in one binary so ratios come from one run.
//   lstm<H>/step_b<B>      one step at batch B without gradients (acting with B environments):
//                          nn::Lstm::step
//   lstm<H>/bptt_b<B>_t<T> forward and backward through B sequences × T steps (a recurrent
//                          PPO minibatch: 8 × 128, or 32 samples as 1 × 32 or 2 × 16, the Lattice
//                          authors' minibatch): the input projection as one GEMM, lstm_sequence,
//                          loss Σ h·R, all parameter gradients
// The floor: noalias GEMMs into preallocated buffers, gate activations with Eigen's array
// functions, a manual backward pass; no tape, no masks. (With a few columns Eigen's GEMM packs all
// of W_hh every step, so there the "floor" is what plain Eigen costs, not a bound.)
#include <benchmark/benchmark.h>

#include <spindle/autodiff.hpp>
#include <spindle/nn.hpp>
#include <string>
#include <utility>

using namespace spindle;

namespace {

using Mat = Eigen::MatrixXf;
using Arr = Eigen::ArrayXXf;
constexpr Eigen::Index input_size = 16;

// ---------------------------------------------------------------- the floor
struct FloorLstm {
  Eigen::Index H, B, T;
  Mat Wih, Whh, bias, dWih, dWhh, dbias;
  Mat X, R, gates, acts, cs, tanh_cs, hs, dG, dh, dc, dh_prev;

  FloorLstm(Eigen::Index hidden, Eigen::Index batch, Eigen::Index steps) : H(hidden), B(batch), T(steps) {
    Wih = Mat::Random(4 * H, input_size) * 0.1f;
    Whh = Mat::Random(4 * H, H) * 0.1f;
    bias = Mat::Random(4 * H, 1) * 0.1f;
    dWih = Mat::Zero(4 * H, input_size);
    dWhh = Mat::Zero(4 * H, H);
    dbias = Mat::Zero(4 * H, 1);
    X = Mat::Random(input_size, B * T);
    R = Mat::Random(H, B * T);
    gates = Mat::Zero(4 * H, B * T);
    acts = Mat::Zero(4 * H, B * T);
    cs = Mat::Zero(H, B * (T + 1));
    tanh_cs = Mat::Zero(H, B * T);
    hs = Mat::Zero(H, B * (T + 1));  // column block 0: the initial state
    dG = Mat::Zero(4 * H, B * T);
    dh = Mat::Zero(H, B);
    dc = Mat::Zero(H, B);
    dh_prev = Mat::Zero(H, B);
  }

  void forward() {
    gates.noalias() = Wih * X;
    gates.colwise() += bias.col(0);
    for (Eigen::Index s = 0; s < T; ++s) {
      auto g = gates.middleCols(s * B, B);
      g.noalias() += Whh * hs.middleCols(s * B, B);
      auto a = acts.middleCols(s * B, B).array();
      a.topRows(2 * H) = (1.0f + (-g.topRows(2 * H).array()).exp()).inverse();
      a.middleRows(2 * H, H) = g.middleRows(2 * H, H).array().tanh();
      a.bottomRows(H) = (1.0f + (-g.bottomRows(H).array()).exp()).inverse();
      cs.middleCols((s + 1) * B, B).array() =
          a.middleRows(H, H) * cs.middleCols(s * B, B).array() + a.topRows(H) * a.middleRows(2 * H, H);
      tanh_cs.middleCols(s * B, B).array() = cs.middleCols((s + 1) * B, B).array().tanh();
      hs.middleCols((s + 1) * B, B).array() = a.bottomRows(H) * tanh_cs.middleCols(s * B, B).array();
    }
  }
  void backward() {
    dh.setZero();
    dc.setZero();
    for (Eigen::Index s = T - 1; s >= 0; --s) {
      dh += R.middleCols(s * B, B);
      const auto a = acts.middleCols(s * B, B).array();
      const auto tc = tanh_cs.middleCols(s * B, B).array();
      dc.array() += dh.array() * a.bottomRows(H) * (1.0f - tc.square());
      auto d = dG.middleCols(s * B, B).array();
      d.topRows(H) = dc.array() * a.middleRows(2 * H, H) * a.topRows(H) * (1.0f - a.topRows(H));
      d.middleRows(H, H) = dc.array() * cs.middleCols(s * B, B).array() * a.middleRows(H, H) * (1.0f - a.middleRows(H, H));
      d.middleRows(2 * H, H) = dc.array() * a.topRows(H) * (1.0f - a.middleRows(2 * H, H).square());
      d.bottomRows(H) = dh.array() * tc * a.bottomRows(H) * (1.0f - a.bottomRows(H));
      dc.array() *= a.middleRows(H, H);
      dh.noalias() = Whh.transpose() * dG.middleCols(s * B, B);
    }
    dWhh.noalias() = dG * hs.leftCols(B * T).transpose();
    dWih.noalias() = dG * X.transpose();
    dbias = dG.rowwise().sum();
  }
};

// ---------------------------------------------------------------- cases
void step_spindle(benchmark::State& state, Eigen::Index H, Eigen::Index B) {
  Rng rng(0);
  nn::Parameters<float> p;
  const nn::Lstm lstm = nn::Lstm::create(p, "lstm.", input_size, H, rng);
  autodiff::Tape<float> tape;
  tape.set_grad_enabled(false);
  const Mat x = Mat::Random(input_size, B), h = Mat::Random(H, B), c = Mat::Random(H, B);
  for (auto _ : state) {
    tape.clear();
    const auto hc = lstm.step(p, tape.view(x.data(), input_size, B), tape.view(h.data(), H, B), tape.view(c.data(), H, B));
    benchmark::DoNotOptimize(tape.node(hc.id).value);
    benchmark::ClobberMemory();
  }
}
void step_floor(benchmark::State& state, Eigen::Index H, Eigen::Index B) {
  FloorLstm f(H, B, 1);
  for (auto _ : state) {
    f.forward();
    benchmark::DoNotOptimize(f.hs.data());
    benchmark::ClobberMemory();
  }
}

void bptt_spindle(benchmark::State& state, Eigen::Index H, Eigen::Index B, Eigen::Index T) {
  Rng rng(0);
  nn::Parameters<float> p;
  const nn::Lstm lstm = nn::Lstm::create(p, "lstm.", input_size, H, rng);
  autodiff::Tape<float> tape;
  const Mat X = Mat::Random(input_size, B * T), R = Mat::Random(H, B * T), hc0 = Mat::Zero(2 * H, B);
  const Mat masks = Mat::Ones(1, B * T);
  for (auto _ : state) {
    tape.clear();
    p.zero_grad();
    const auto xproj = autodiff::linear(tape.view(X.data(), input_size, B * T), p.on(tape, lstm.weight_ih), p.on(tape, lstm.bias_ih));
    const auto h = autodiff::lstm_sequence(xproj, p.on(tape, lstm.weight_hh), tape.view(hc0.data(), 2 * H, B),
                                           tape.view(masks.data(), 1, B * T));
    tape.backward(autodiff::sum(h * tape.view(R.data(), H, B * T)));
    benchmark::ClobberMemory();
  }
}
void bptt_floor(benchmark::State& state, Eigen::Index H, Eigen::Index B, Eigen::Index T) {
  FloorLstm f(H, B, T);
  for (auto _ : state) {
    f.forward();
    f.backward();
    benchmark::DoNotOptimize(f.dWhh.data());
    benchmark::ClobberMemory();
  }
}

}  // namespace

int main(int argc, char** argv) {
  Eigen::setNbThreads(1);
  for (Eigen::Index H : {64, 256}) {
    const std::string base = "lstm" + std::to_string(H) + "/";
    for (Eigen::Index B : {1, 4}) {
      const std::string name = base + "step_b" + std::to_string(B);
      benchmark::RegisterBenchmark((name + "/spindle").c_str(), step_spindle, H, B);
      benchmark::RegisterBenchmark((name + "/floor").c_str(), step_floor, H, B);
    }
    for (const auto& [B, T] : {std::pair<Eigen::Index, Eigen::Index>{8, 128}, {1, 32}, {2, 16}}) {
      const std::string name = base + "bptt_b" + std::to_string(B) + "_t" + std::to_string(T);
      benchmark::RegisterBenchmark((name + "/spindle").c_str(), bptt_spindle, H, B, T)->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark((name + "/floor").c_str(), bptt_floor, H, B, T)->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
