// LSTM and GRU cells: PyTorch's equations computed by hand in double, gradients by finite
// differences over sequences with episode-start masks, and layers that allocate nothing once
// warmed up.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <spindle/autodiff.hpp>
#include <spindle/nn.hpp>
#include <spindle/nn/recurrent.hpp>

#include "alloc_counter.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_recurrent {

using namespace spindle;
using namespace spindle::autodiff;
using Eigen::MatrixXd;

namespace {

MatrixXd random(Eigen::Index r, Eigen::Index c, Rng& rng, double scale = 1.0) {
  MatrixXd m(r, c);
  for (Eigen::Index i = 0; i < m.size(); ++i) m(i) = scale * rng.uniform(-1.0, 1.0);
  return m;
}
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// torch.nn.LSTMCell, written out for one column.
void lstm_reference(const MatrixXd& Wih, const MatrixXd& Whh, const Eigen::VectorXd& bih, const Eigen::VectorXd& bhh,
                    const Eigen::VectorXd& x, Eigen::VectorXd& h, Eigen::VectorXd& c) {
  const Eigen::Index H = h.size();
  const Eigen::VectorXd gates = Wih * x + bih + Whh * h + bhh;
  Eigen::VectorXd h_new(H), c_new(H);
  for (Eigen::Index k = 0; k < H; ++k) {
    const double i = sigmoid(gates(k)), f = sigmoid(gates(H + k)), g = std::tanh(gates(2 * H + k)), o = sigmoid(gates(3 * H + k));
    c_new(k) = f * c(k) + i * g;
    h_new(k) = o * std::tanh(c_new(k));
  }
  h = h_new;
  c = c_new;
}

// torch.nn.GRUCell, written out for one column.
void gru_reference(const MatrixXd& Wih, const MatrixXd& Whh, const Eigen::VectorXd& bih, const Eigen::VectorXd& bhh,
                   const Eigen::VectorXd& x, Eigen::VectorXd& h) {
  const Eigen::Index H = h.size();
  const Eigen::VectorXd gi = Wih * x + bih, gh = Whh * h + bhh;
  Eigen::VectorXd h_new(H);
  for (Eigen::Index k = 0; k < H; ++k) {
    const double r = sigmoid(gi(k) + gh(k)), z = sigmoid(gi(H + k) + gh(H + k));
    const double n = std::tanh(gi(2 * H + k) + r * gh(2 * H + k));
    h_new(k) = (1 - z) * n + z * h(k);
  }
  h = h_new;
}

}  // namespace

TEST_CASE("LSTM layer: PyTorch's equations and gate order over a sequence, to 1e-12 in double") {
  Rng rng(1);
  const Eigen::Index I = 3, H = 5, B = 4, T = 6;
  nn::Parameters<double> p;
  const nn::Lstm lstm = nn::Lstm::create(p, "lstm.", I, H, rng);
  CHECK(p.slot(lstm.weight_ih).name == "lstm.weight_ih");
  CHECK(p.value(lstm.weight_ih).rows() == 4 * H);
  CHECK(p.value(lstm.weight_hh).cols() == H);
  CHECK(p.value(lstm.weight_ih).cwiseAbs().maxCoeff() <= 1.0 / std::sqrt(double(H)));  // PyTorch's init bound
  const MatrixXd X = random(I, B * T, rng), h0 = random(H, B, rng), c0 = random(H, B, rng);

  Tape<double> t;
  Var<double> h = t.constant(h0), c = t.constant(c0);
  for (Eigen::Index s = 0; s < T; ++s) {
    const Var<double> hc = lstm.step(p, t.constant(X.middleCols(s * B, B)), h, c);
    h = slice_rows(hc, 0, H);
    c = slice_rows(hc, H, H);
  }
  for (Eigen::Index b = 0; b < B; ++b) {
    Eigen::VectorXd hr = h0.col(b), cr = c0.col(b);
    for (Eigen::Index s = 0; s < T; ++s)
      lstm_reference(p.value(lstm.weight_ih), p.value(lstm.weight_hh), p.value(lstm.bias_ih), p.value(lstm.bias_hh),
                     X.col(s * B + b), hr, cr);
    CHECK((h.value().col(b) - hr).cwiseAbs().maxCoeff() < 1e-12);
    CHECK((c.value().col(b) - cr).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("GRU layer: PyTorch's equations and gate order over a sequence, to 1e-12 in double") {
  Rng rng(2);
  const Eigen::Index I = 4, H = 3, B = 2, T = 5;
  nn::Parameters<double> p;
  const nn::Gru gru = nn::Gru::create(p, "gru.", I, H, rng);
  CHECK(p.value(gru.weight_ih).rows() == 3 * H);
  const MatrixXd X = random(I, B * T, rng), h0 = random(H, B, rng);
  Tape<double> t;
  Var<double> h = t.constant(h0);
  for (Eigen::Index s = 0; s < T; ++s) h = gru.step(p, t.constant(X.middleCols(s * B, B)), h);
  for (Eigen::Index b = 0; b < B; ++b) {
    Eigen::VectorXd hr = h0.col(b);
    for (Eigen::Index s = 0; s < T; ++s)
      gru_reference(p.value(gru.weight_ih), p.value(gru.weight_hh), p.value(gru.bias_ih), p.value(gru.bias_hh),
                    X.col(s * B + b), hr);
    CHECK((h.value().col(b) - hr).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("LSTM gradients over a sequence with mid-sequence episode starts (gradcheck)") {
  Rng rng(3);
  const Eigen::Index I = 2, H = 3, B = 3, T = 4;
  // Column b of mask t is 0 where an episode starts at step t (the state is reset there).
  MatrixXd masks = MatrixXd::Ones(1, B * T);
  masks(0, 1 * B + 0) = 0;  // env 0 restarts at step 1
  masks(0, 2 * B + 2) = 0;  // env 2 restarts at step 2
  const std::vector<MatrixXd> inputs{random(I, B * T, rng), random(4 * H, I, rng, 0.5), random(4 * H, H, rng, 0.5),
                                     random(4 * H, 1, rng, 0.5), random(4 * H, 1, rng, 0.5), random(H, B, rng),
                                     random(H, B, rng), random(H, B, rng)};
  const auto r = gradcheck(
      [&](Tape<double>& t, std::span<const Var<double>> v) {
        Var<double> h = v[5], c = v[6];
        for (Eigen::Index s = 0; s < T; ++s) {
          const Var<double> m = t.constant(masks.middleCols(s * B, B));
          h = h * m;
          c = c * m;
          const Var<double> gates = linear(slice_cols(v[0], s * B, B), v[1], v[3]) + linear(h, v[2], v[4]);
          const Var<double> hc = lstm_cell(gates, c);
          h = slice_rows(hc, 0, H);
          c = slice_rows(hc, H, H);
        }
        return sum(h * v[7]) + sum(square(c));
      },
      inputs);
  CHECK(r.max_relative_error < 1e-7);
}

TEST_CASE("GRU gradients over a sequence with mid-sequence episode starts (gradcheck)") {
  Rng rng(4);
  const Eigen::Index I = 3, H = 2, B = 2, T = 5;
  MatrixXd masks = MatrixXd::Ones(1, B * T);
  masks(0, 3 * B + 1) = 0;
  const std::vector<MatrixXd> inputs{random(I, B * T, rng), random(3 * H, I, rng, 0.5), random(3 * H, H, rng, 0.5),
                                     random(3 * H, 1, rng, 0.5), random(3 * H, 1, rng, 0.5), random(H, B, rng),
                                     random(H, B, rng)};
  const auto r = gradcheck(
      [&](Tape<double>& t, std::span<const Var<double>> v) {
        Var<double> h = v[5];
        for (Eigen::Index s = 0; s < T; ++s) {
          h = h * t.constant(masks.middleCols(s * B, B));
          h = gru_cell(linear(slice_cols(v[0], s * B, B), v[1], v[3]), linear(h, v[2], v[4]), h);
        }
        return sum(h * v[6]);
      },
      inputs);
  CHECK(r.max_relative_error < 1e-7);
}

TEST_CASE("LSTM and GRU layers: a training pass allocates nothing once warmed up, wrong shapes throw") {
  Rng rng(5);
  nn::Parameters<float> p;
  const nn::Lstm lstm = nn::Lstm::create(p, "lstm.", 3, 8, rng);
  const nn::Gru gru = nn::Gru::create(p, "gru.", 3, 8, rng);
  const Eigen::MatrixXf X = Eigen::MatrixXf::Random(3, 4 * 10), zero = Eigen::MatrixXf::Zero(8, 4);
  Tape<float> t;
  auto pass = [&] {
    t.clear();
    p.zero_grad();
    Var<float> h = t.view(zero.data(), 8, 4), c = t.view(zero.data(), 8, 4), g = t.view(zero.data(), 8, 4);
    const Var<float> proj = lstm.input_projection(p, t.view(X.data(), 3, 40));
    for (Eigen::Index s = 0; s < 10; ++s) {
      const Var<float> hc = lstm.step_projected(p, slice_cols(proj, s * 4, 4), h, c);
      h = slice_rows(hc, 0, 8);
      c = slice_rows(hc, 8, 8);
      g = gru.step(p, slice_cols(t.view(X.data(), 3, 40), s * 4, 4), g);
    }
    t.backward(sum(h) + sum(g));
  };
  pass();
  pass();
  const auto before = spindle_test::allocations();
  pass();
  CHECK(spindle_test::allocations() == before);
  CHECK(p.grad(lstm.weight_hh).norm() > 0.0f);
  CHECK(p.grad(gru.weight_hh).norm() > 0.0f);
  t.clear();
  CHECK_THROWS_AS(lstm_cell(t.constant(Eigen::MatrixXf::Zero(31, 4)), t.constant(Eigen::MatrixXf::Zero(8, 4))), shape_error);
  CHECK_THROWS_AS(gru_cell(t.constant(Eigen::MatrixXf::Zero(24, 4)), t.constant(Eigen::MatrixXf::Zero(24, 3)),
                           t.constant(Eigen::MatrixXf::Zero(8, 4))),
                  shape_error);
}

// Episode starts: env 1 at step 0, env 0 at step 2, the last env at the last step (B ≥ 2, T ≥ 3).
MatrixXd episode_start_masks(Eigen::Index B, Eigen::Index T) {
  MatrixXd masks = MatrixXd::Ones(1, B * T);
  masks(0, 0 * B + 1) = 0;
  masks(0, 2 * B + 0) = 0;
  masks(0, (T - 1) * B + B - 1) = 0;
  return masks;
}

// H = 4 keeps W_hh's products on Eigen's path where a packet holds more than 4 doubles; H = 16
// (a whole number of packets in every build) takes the in-place per-step products and the
// transposed copy of W_hh in backward.
void check_lstm_sequence(Eigen::Index I, Eigen::Index H, Eigen::Index B, Eigen::Index T, std::uint64_t seed) {
  CAPTURE(H);
  CAPTURE(B);
  Rng rng(seed);
  const MatrixXd masks = episode_start_masks(B, T);
  const MatrixXd X = random(I, B * T, rng), Wih = random(4 * H, I, rng, 0.5), Whh = random(4 * H, H, rng, 0.5);
  const MatrixXd b = random(4 * H, 1, rng, 0.5), hc0 = random(2 * H, B, rng), R = random(H, B * T, rng);

  // Values: one node against the composition of cells with masks.
  Tape<double> t;
  const Var<double> seq = lstm_sequence(linear(t.constant(X), t.constant(Wih), t.constant(b)), t.constant(Whh),
                                        t.constant(hc0), t.constant(masks));
  Var<double> h = slice_rows(t.constant(hc0), 0, H), c = slice_rows(t.constant(hc0), H, H);
  for (Eigen::Index s = 0; s < T; ++s) {
    const Var<double> m = t.constant(masks.middleCols(s * B, B));
    const Var<double> gates = linear(t.constant(X.middleCols(s * B, B)), t.constant(Wih), t.constant(b)) +
                              matmul(t.constant(Whh), h * m);
    const Var<double> hc = lstm_cell(gates, c * m);
    h = slice_rows(hc, 0, H);
    c = slice_rows(hc, H, H);
    CHECK((seq.value().middleCols(s * B, B) - h.value()).cwiseAbs().maxCoeff() < 1e-12);
  }
  CHECK((lstm_final_cell(seq) - c.value()).cwiseAbs().maxCoeff() < 1e-12);

  const auto r = gradcheck(
      [&](Tape<double>& tt, std::span<const Var<double>> v) {
        const Var<double> out = lstm_sequence(linear(v[0], v[1], v[3]), v[2], v[4], tt.constant(masks));
        return sum(out * tt.constant(R));
      },
      {X, Wih, Whh, b, hc0});
  CHECK(r.max_relative_error < 1e-7);
}

TEST_CASE("lstm_sequence: the same values as step-by-step cells, and BPTT gradients with episode starts (gradcheck)") {
  check_lstm_sequence(3, 4, 3, 5, 6);
  check_lstm_sequence(3, 16, 2, 4, 16);
}

TEST_CASE("lstm_sequence: a training pass allocates nothing once warmed up, wrong shapes throw") {
  Rng rng(7);
  nn::Parameters<float> p;
  const nn::Lstm lstm = nn::Lstm::create(p, "lstm.", 3, 16, rng);
  const Eigen::MatrixXf X = Eigen::MatrixXf::Random(3, 8 * 12), hc0 = Eigen::MatrixXf::Zero(32, 8),
                        masks = Eigen::MatrixXf::Ones(1, 8 * 12);
  Tape<float> t;
  auto pass = [&] {
    t.clear();
    p.zero_grad();
    const Var<float> xproj = lstm.input_projection(p, t.view(X.data(), 3, 96));
    const Var<float> out = lstm_sequence(xproj, p.on(t, lstm.weight_hh), t.view(hc0.data(), 32, 8), t.view(masks.data(), 1, 96));
    t.backward(sum(out));
  };
  pass();
  const auto before = spindle_test::allocations();
  pass();
  CHECK(spindle_test::allocations() == before);
  CHECK(p.grad(lstm.weight_hh).norm() > 0.0f);
  t.clear();
  CHECK_THROWS_AS(lstm_sequence(t.constant(Eigen::MatrixXf::Zero(64, 95)), t.constant(Eigen::MatrixXf::Zero(64, 16)),
                                t.constant(Eigen::MatrixXf::Zero(32, 8)), t.constant(Eigen::MatrixXf::Zero(1, 95))),
                  shape_error);
}

void check_gru_sequence(Eigen::Index I, Eigen::Index H, Eigen::Index B, Eigen::Index T, std::uint64_t seed) {
  CAPTURE(H);
  CAPTURE(B);
  Rng rng(seed);
  const MatrixXd masks = episode_start_masks(B, T);
  const MatrixXd X = random(I, B * T, rng), Wih = random(3 * H, I, rng, 0.5), Whh = random(3 * H, H, rng, 0.5);
  const MatrixXd bih = random(3 * H, 1, rng, 0.5), bhh = random(3 * H, 1, rng, 0.5), h0 = random(H, B, rng), R = random(H, B * T, rng);

  Tape<double> t;
  const Var<double> seq = gru_sequence(linear(t.constant(X), t.constant(Wih), t.constant(bih)), t.constant(Whh), t.constant(bhh),
                                       t.constant(h0), t.constant(masks));
  Var<double> h = t.constant(h0);
  for (Eigen::Index s = 0; s < T; ++s) {
    h = h * t.constant(masks.middleCols(s * B, B));
    h = gru_cell(linear(t.constant(X.middleCols(s * B, B)), t.constant(Wih), t.constant(bih)),
                 linear(h, t.constant(Whh), t.constant(bhh)), h);
    CHECK((seq.value().middleCols(s * B, B) - h.value()).cwiseAbs().maxCoeff() < 1e-12);
  }
  const auto r = gradcheck(
      [&](Tape<double>& tt, std::span<const Var<double>> v) {
        return sum(gru_sequence(linear(v[0], v[1], v[3]), v[2], v[4], v[5], tt.constant(masks)) * tt.constant(R));
      },
      {X, Wih, Whh, bih, bhh, h0});
  CHECK(r.max_relative_error < 1e-7);
}

TEST_CASE("gru_sequence: the same values as step-by-step cells, and BPTT gradients with episode starts (gradcheck)") {
  check_gru_sequence(2, 3, 2, 5, 8);
  check_gru_sequence(2, 16, 3, 4, 18);
}

}  // namespace test_recurrent
