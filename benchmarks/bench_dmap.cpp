// DMAP's kernels: spindle's policy::Dmap on the tape next to a hand-written Eigen floor of the
// same network (same weights, same math), in one binary so ratios come from one run. Quadruped
// sizes: 27 state + 8 action channels, 8 actuators; the budget and the paper's presets.
//   act_b1/…    : acting, batch 1 — the network and the per-actuator mean, gradients off
//   train_b256/…: batch 256, forward and backward of Σ G ⊙ μ (every parameter's gradient)
//   <case>/floor: the same with plain Eigen — im2col convolutions (noalias GEMMs), bias and
//                 ReLU passes, per-sample softmax and pooling, one product per actuator, and a
//                 hand-written backward. Checked against spindle's values and gradients at start.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <spindle/autodiff.hpp>
#include <spindle/noise.hpp>
#include <spindle/policy.hpp>
#include <string>
#include <vector>

using namespace spindle;

namespace {

using Mat = Eigen::MatrixXf;
constexpr Eigen::Index kObs = 27, kAct = 8;

// ---------------------------------------------------------------- spindle
struct SpindleDmap {
  nn::Parameters<float> p;
  policy::Dmap net;
  noise::DiagGaussian<float> head;
  autodiff::Tape<float> tape;

  static noise::DiagGaussian<float>::Config grouped() {
    noise::DiagGaussian<float>::Config c;
    c.head.groups = kAct;
    return c;
  }
  SpindleDmap(const policy::Dmap::Config& c, Rng& rng)
      : net(policy::Dmap::create(p, {.role = policy::Role::actor, .shapes = {kObs, kAct, 0}, .prefix = "pi."}, c, rng)),
        head(net.latent_size(), kAct, p, rng, grouped()) {}

  autodiff::Var<float> mean(const Mat& window, const Mat& obs, const Mat& prev) {
    tape.clear();
    const auto z = net(p, {.observation = tape.view(obs.data(), obs.rows(), obs.cols()),
                           .previous_action = tape.view(prev.data(), prev.rows(), prev.cols()),
                           .history = tape.view(window.data(), window.rows(), window.cols())});
    return head.mean(p, z);
  }
  void train(const Mat& window, const Mat& obs, const Mat& prev, const Mat& G) {
    p.zero_grad();
    const auto mu = mean(window, obs, prev);
    tape.backward(autodiff::sum(mu * tape.view(G.data(), G.rows(), G.cols())));
  }
  Mat param(const std::string& name) {
    for (int i = 0; i < p.count(); ++i)
      if (p.slot(i).name == name) return p.value(i);
    std::fprintf(stderr, "bench_dmap: no parameter %s\n", name.c_str());
    std::abort();
  }
  Mat grad(const std::string& name) {
    for (int i = 0; i < p.count(); ++i)
      if (p.slot(i).name == name) return p.grad(i);
    std::abort();
  }
};

// ---------------------------------------------------------------- the floor
struct FloorDmap {
  struct Conv {
    Mat W, b, dW, db;
    Eigen::Index c_in, k, stride, t_in, t_out;
    Mat cols, out, dout, dcols;  // out: c_out × (t_out·N), column n·t_out + t
  };
  std::vector<Conv> conv;
  Mat W1, b1, W2, b2, Wk, bk, Wv, bv, Ws, We, be, Wc, bc, Wm, bm;                     // weights
  Mat dW1, db1, dW2, db2, dWk, dbk, dWv, dbv, dWs, dWe, dbe, dWc, dbc, dWm, dbm;      // gradients
  Mat series, flat, e1, code, K, V, alpha, emb, state, h0, h1, mu;                     // activations
  Mat dflat, de1, dcode, dK, dV, dalpha, demb, dh0, dh1;
  Eigen::Index T, C, A, E, H0, H1;

  FloorDmap(SpindleDmap& s, const policy::Dmap::Config& c) : T(c.history), C(kObs + kAct), A(kAct), E(c.embedding) {
    Eigen::Index t = T, in = 1;
    for (std::size_t l = 0; l < c.convolutions.size(); ++l) {
      Conv v;
      v.W = s.param("pi.dmap.conv" + std::to_string(l) + ".weight");
      v.b = s.param("pi.dmap.conv" + std::to_string(l) + ".bias");
      v.c_in = in;
      v.k = c.convolutions[l].kernel;
      v.stride = c.convolutions[l].stride;
      v.t_in = t;
      v.t_out = (t - v.k) / v.stride + 1;
      conv.push_back(v);
      t = v.t_out;
      in = c.filters;
    }
    W1 = s.param("pi.dmap.encoder.layer0.weight"), b1 = s.param("pi.dmap.encoder.layer0.bias");
    W2 = s.param("pi.dmap.encoder.layer1.weight"), b2 = s.param("pi.dmap.encoder.layer1.bias");
    Wk = s.param("pi.dmap.key.weight"), bk = s.param("pi.dmap.key.bias");
    Wv = s.param("pi.dmap.value.weight"), bv = s.param("pi.dmap.value.bias");
    Ws = s.param("pi.dmap.controller0.state.weight");
    We = s.param("pi.dmap.controller0.embedding.weight"), be = s.param("pi.dmap.controller0.embedding.bias");
    Wc = s.param("pi.dmap.controller1.weight"), bc = s.param("pi.dmap.controller1.bias");
    Wm = s.param("action.weight"), bm = s.param("action.bias");
    H0 = c.controller_hidden[0];
    H1 = c.controller_hidden[1];
  }

  static void relu(Mat& m) { m = m.cwiseMax(0.0f); }
  static void relu_grad(Mat& d, const Mat& y) { d = (y.array() > 0.0f).select(d, 0.0f); }

  const Mat& forward(const Mat& window, const Mat& obs, const Mat& prev) {
    const Eigen::Index B = window.cols(), N = C * B;
    series.resize(T, N);  // column c + C·b: channel c of sample b over time
    for (Eigen::Index b = 0; b < B; ++b)
      for (Eigen::Index t = 0; t < T; ++t)
        for (Eigen::Index c = 0; c < C; ++c) series(t, c + C * b) = window(t * C + c, b);
    const Mat* in = &series;
    for (Conv& v : conv) {  // im2col from an input laid out c_in × (t_in·N) (the first: T × N, c_in 1)
      v.cols.resize(v.c_in * v.k, v.t_out * N);
      for (Eigen::Index n = 0; n < N; ++n)
        for (Eigen::Index to = 0; to < v.t_out; ++to)
          for (Eigen::Index c = 0; c < v.c_in; ++c)
            for (Eigen::Index kk = 0; kk < v.k; ++kk)
              v.cols(c * v.k + kk, n * v.t_out + to) =
                  v.c_in == 1 ? (*in)(to * v.stride + kk, n) : (*in)(c, n * v.t_in + to * v.stride + kk);
      v.out.noalias() = v.W * v.cols;
      v.out.colwise() += v.b.col(0);
      relu(v.out);
      in = &v.out;
    }
    const Conv& last = conv.back();
    const Eigen::Index F = last.W.rows();
    flat.resize(F * last.t_out, N);  // channel-major per series, as the flatten of a (filters, T) map
    for (Eigen::Index n = 0; n < N; ++n)
      for (Eigen::Index o = 0; o < F; ++o)
        for (Eigen::Index t = 0; t < last.t_out; ++t) flat(o * last.t_out + t, n) = last.out(o, n * last.t_out + t);
    e1.noalias() = W1 * flat;
    e1.colwise() += b1.col(0);
    relu(e1);
    code.noalias() = W2 * e1;
    code.colwise() += b2.col(0);
    relu(code);
    K.noalias() = Wk * code;
    K.colwise() += bk.col(0);
    V.noalias() = Wv * code;
    V.colwise() += bv.col(0);
    alpha.resize(A, N);
    emb.resize(A * E, B);
    for (Eigen::Index b = 0; b < B; ++b) {
      auto k = K.middleCols(b * C, C);
      auto a = alpha.middleCols(b * C, C);
      a = (k.colwise() - k.rowwise().maxCoeff()).array().exp().matrix();
      a.array().colwise() /= a.rowwise().sum().array();
      Eigen::Map<Mat> eb(emb.col(b).data(), E, A);
      eb.noalias() = V.middleCols(b * C, C) * a.transpose();
    }
    state.resize(kObs + kAct, B);
    state << obs, prev;
    h0.noalias() = Ws * state;
    h0.colwise() += be.col(0);
    h1.resize(A * H1, B);
    mu.resize(A, B);
    for (Eigen::Index i = 0; i < A; ++i) h0.middleRows(i * H0, H0).noalias() += We.middleCols(i * E, E) * emb.middleRows(i * E, E);
    relu(h0);
    for (Eigen::Index i = 0; i < A; ++i) h1.middleRows(i * H1, H1).noalias() = Wc.middleCols(i * H0, H0) * h0.middleRows(i * H0, H0);
    h1.colwise() += bc.col(0);
    relu(h1);
    for (Eigen::Index i = 0; i < A; ++i) mu.row(i).noalias() = Wm.middleCols(i * H1, H1) * h1.middleRows(i * H1, H1);
    mu.colwise() += bm.col(0);
    return mu;
  }

  void backward(const Mat& G) {  // G = ∂loss/∂μ
    const Eigen::Index B = G.cols(), N = C * B;
    dbm = G.rowwise().sum();
    dWm.resize(Wm.rows(), Wm.cols());
    dh1.resize(A * H1, B);
    for (Eigen::Index i = 0; i < A; ++i) {
      dWm.middleCols(i * H1, H1).noalias() = G.row(i) * h1.middleRows(i * H1, H1).transpose();
      dh1.middleRows(i * H1, H1).noalias() = Wm.middleCols(i * H1, H1).transpose() * G.row(i);
    }
    relu_grad(dh1, h1);
    dbc = dh1.rowwise().sum();
    dWc.resize(Wc.rows(), Wc.cols());
    dh0.resize(A * H0, B);
    for (Eigen::Index i = 0; i < A; ++i) {
      dWc.middleCols(i * H0, H0).noalias() = dh1.middleRows(i * H1, H1) * h0.middleRows(i * H0, H0).transpose();
      dh0.middleRows(i * H0, H0).noalias() = Wc.middleCols(i * H0, H0).transpose() * dh1.middleRows(i * H1, H1);
    }
    relu_grad(dh0, h0);
    dbe = dh0.rowwise().sum();
    dWs.noalias() = dh0 * state.transpose();
    dWe.resize(We.rows(), We.cols());
    demb.resize(A * E, B);
    for (Eigen::Index i = 0; i < A; ++i) {
      dWe.middleCols(i * E, E).noalias() = dh0.middleRows(i * H0, H0) * emb.middleRows(i * E, E).transpose();
      demb.middleRows(i * E, E).noalias() = We.middleCols(i * E, E).transpose() * dh0.middleRows(i * H0, H0);
    }
    dK.resize(A, N);
    dV.resize(E, N);
    for (Eigen::Index b = 0; b < B; ++b) {
      const Eigen::Map<const Mat> de(demb.col(b).data(), E, A);
      const auto a = alpha.middleCols(b * C, C);
      dV.middleCols(b * C, C).noalias() = de * a;
      dalpha.noalias() = de.transpose() * V.middleCols(b * C, C);
      const Eigen::VectorXf dot = (dalpha.array() * a.array()).rowwise().sum();
      dK.middleCols(b * C, C) = a.array() * (dalpha.colwise() - dot).array();
    }
    dbk = dK.rowwise().sum();
    dWk.noalias() = dK * code.transpose();
    dbv = dV.rowwise().sum();
    dWv.noalias() = dV * code.transpose();
    dcode.noalias() = Wk.transpose() * dK;
    dcode.noalias() += Wv.transpose() * dV;
    relu_grad(dcode, code);
    db2 = dcode.rowwise().sum();
    dW2.noalias() = dcode * e1.transpose();
    de1.noalias() = W2.transpose() * dcode;
    relu_grad(de1, e1);
    db1 = de1.rowwise().sum();
    dW1.noalias() = de1 * flat.transpose();
    dflat.noalias() = W1.transpose() * de1;
    Conv& last = conv.back();
    last.dout.resize(last.out.rows(), last.out.cols());
    for (Eigen::Index n = 0; n < N; ++n)
      for (Eigen::Index o = 0; o < last.W.rows(); ++o)
        for (Eigen::Index t = 0; t < last.t_out; ++t) last.dout(o, n * last.t_out + t) = dflat(o * last.t_out + t, n);
    for (std::size_t l = conv.size(); l-- > 0;) {
      Conv& v = conv[l];
      relu_grad(v.dout, v.out);
      v.db = v.dout.rowwise().sum();
      v.dW.noalias() = v.dout * v.cols.transpose();
      if (l == 0) break;  // the window needs no gradient
      v.dcols.noalias() = v.W.transpose() * v.dout;
      Conv& prev = conv[l - 1];
      prev.dout.setZero(prev.out.rows(), prev.out.cols());
      for (Eigen::Index n = 0; n < N; ++n)
        for (Eigen::Index to = 0; to < v.t_out; ++to)
          for (Eigen::Index c = 0; c < v.c_in; ++c)
            for (Eigen::Index kk = 0; kk < v.k; ++kk)
              prev.dout(c, n * v.t_in + to * v.stride + kk) += v.dcols(c * v.k + kk, n * v.t_out + to);
    }
  }
};

struct Inputs {
  Mat window, obs, prev, G;
  Inputs(const policy::Dmap::Config& c, Eigen::Index B) {
    Rng rng(9, 1);
    window.resize(c.history * (kObs + kAct), B);
    obs.resize(kObs, B);
    prev.resize(kAct, B);
    G.resize(kAct, B);
    for (Mat* m : {&window, &obs, &prev, &G}) rng.fill_normal(*m);
  }
};

double relative(const Mat& a, const Mat& b) { return (a - b).cwiseAbs().maxCoeff() / std::max(1e-3f, b.cwiseAbs().maxCoeff()); }

/// The floor must compute what spindle computes: values and every gradient, to float accuracy.
void check(const policy::Dmap::Config& c, const std::string& name) {
  Rng rng(1, 0);
  SpindleDmap s(c, rng);
  FloorDmap f(s, c);
  const Inputs in(c, 16);
  s.train(in.window, in.obs, in.prev, in.G);
  const Mat mu = s.mean(in.window, in.obs, in.prev).value();
  const Mat fmu = f.forward(in.window, in.obs, in.prev);
  f.backward(in.G);
  double worst = relative(fmu, mu);
  const std::map<std::string, const Mat*> grads{
      {"pi.dmap.conv0.weight", &f.conv[0].dW}, {"pi.dmap.conv1.weight", &f.conv[1].dW},
      {"pi.dmap.conv2.weight", &f.conv[2].dW}, {"pi.dmap.conv2.bias", &f.conv[2].db},
      {"pi.dmap.encoder.layer0.weight", &f.dW1}, {"pi.dmap.encoder.layer1.weight", &f.dW2},
      {"pi.dmap.key.weight", &f.dWk}, {"pi.dmap.value.weight", &f.dWv},
      {"pi.dmap.controller0.state.weight", &f.dWs}, {"pi.dmap.controller0.embedding.weight", &f.dWe},
      {"pi.dmap.controller1.weight", &f.dWc}, {"action.weight", &f.dWm}, {"action.bias", &f.dbm}};
  for (const auto& [param, g] : grads) worst = std::max(worst, relative(*g, s.grad(param)));
  std::printf("bench_dmap: %s floor vs spindle, worst relative difference of values and gradients %.2e\n", name.c_str(), worst);
  if (!(worst < 1e-3)) {
    std::fprintf(stderr, "bench_dmap: the floor does not compute what spindle computes\n");
    std::exit(1);
  }
}

void act_spindle(benchmark::State& state, policy::Dmap::Config c) {
  Rng rng(1, 0);
  SpindleDmap s(c, rng);
  s.tape.set_grad_enabled(false);
  const Inputs in(c, 1);
  for (auto _ : state) benchmark::DoNotOptimize(s.mean(in.window, in.obs, in.prev).value().data());
}
void act_floor(benchmark::State& state, policy::Dmap::Config c) {
  Rng rng(1, 0);
  SpindleDmap s(c, rng);
  FloorDmap f(s, c);
  const Inputs in(c, 1);
  for (auto _ : state) benchmark::DoNotOptimize(f.forward(in.window, in.obs, in.prev).data());
}
void train_spindle(benchmark::State& state, policy::Dmap::Config c) {
  Rng rng(1, 0);
  SpindleDmap s(c, rng);
  const Inputs in(c, 256);
  for (auto _ : state) {
    s.train(in.window, in.obs, in.prev, in.G);
    benchmark::ClobberMemory();
  }
}
void train_floor(benchmark::State& state, policy::Dmap::Config c) {
  Rng rng(1, 0);
  SpindleDmap s(c, rng);
  FloorDmap f(s, c);
  const Inputs in(c, 256);
  for (auto _ : state) {
    f.forward(in.window, in.obs, in.prev);
    f.backward(in.G);
    benchmark::ClobberMemory();
  }
}

}  // namespace

int main(int argc, char** argv) {
  Eigen::setNbThreads(1);
  const std::vector<std::pair<std::string, policy::Dmap::Config>> presets{{"budget", policy::Dmap::Config::budget()},
                                                                          {"paper", policy::Dmap::Config::paper()}};
  for (const auto& [name, c] : presets) {
    check(c, name);
    for (auto [kind, fs, ff] : {std::tuple{"act_b1", &act_spindle, &act_floor}, std::tuple{"train_b256", &train_spindle, &train_floor}}) {
      const std::string base = "dmap_" + name + "/" + kind;
      benchmark::RegisterBenchmark((base + "/spindle").c_str(), fs, c)->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark((base + "/floor").c_str(), ff, c)->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
