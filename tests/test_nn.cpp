#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <spindle/autodiff.hpp>
#include <spindle/nn.hpp>

#include "alloc_counter.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_nn {

using namespace spindle;
using autodiff::Activation;

namespace {
nn::Parameters<double> two_params(double a, double b) {
  nn::Parameters<double> p;
  p.add("w", 2, 1);
  p.value(0) << a, b;
  return p;
}
}  // namespace

TEST_CASE("Adam: three steps equal PyTorch's formula computed by hand") {
  // Expected: m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; p ← p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε)
  auto p = two_params(1.0, -2.0);
  nn::Adam<double> adam(p, {.lr = 0.1});
  const double grads[3][2] = {{0.5, 0.1}, {-0.2, 0.3}, {0.05, -0.4}};
  const double expected[3][2] = {{0.900000002, -2.099999990000001},
                                 {0.8654394181165108, -2.19177809779441},
                                 {0.8329273220484438, -2.1856379980611185}};
  for (int t = 0; t < 3; ++t) {
    p.grad(0) << grads[t][0], grads[t][1];
    const auto r = adam.step(p);
    CHECK(r.applied);
    CHECK(p.value(0)(0) == doctest::Approx(expected[t][0]).epsilon(1e-12));
    CHECK(p.value(0)(1) == doctest::Approx(expected[t][1]).epsilon(1e-12));
  }
  CHECK(adam.steps() == 3);

  auto q = two_params(1.0, -2.0);
  nn::Adam<double> decayed(q, {.lr = 0.1, .weight_decay = 0.01});
  q.grad(0) << 0.5, 0.1;
  decayed.step(q);
  q.grad(0) << -0.2, 0.3;
  decayed.step(q);
  CHECK(q.value(0)(0) == doctest::Approx(0.8633641380701821).epsilon(1e-12));
  CHECK(q.value(0)(1) == doctest::Approx(-2.189994210661293).epsilon(1e-12));
}

TEST_CASE("Optimisers: a NaN gradient skips the step untouched, or throws naming the parameter") {
  auto p = two_params(1.0, 2.0);
  nn::Adam<double> adam(p, {.lr = 0.1});
  p.grad(0) << 0.5, std::nan("");
  const auto r = adam.step(p);
  CHECK_FALSE(r.applied);
  CHECK_FALSE(std::isfinite(r.grad_norm));
  CHECK(p.value(0)(0) == 1.0);
  CHECK(p.value(0)(1) == 2.0);
  CHECK(adam.steps() == 0);
  CHECK(adam.skipped_steps() == 1);
  CHECK(adam.first_moment().isZero());

  nn::Adam<double> strict(p, {.lr = 0.1, .on_non_finite = nn::NonFinitePolicy::throw_error});
  CHECK_THROWS_WITH_AS(strict.step(p), "Adam::step: non-finite gradient in parameter 'w'", non_finite_error);
  CHECK(p.value(0)(0) == 1.0);

  nn::Sgd<double> sgd(p, {.lr = 0.1});
  CHECK_FALSE(sgd.step(p).applied);
  CHECK(p.value(0)(1) == 2.0);
}

TEST_CASE("SGD with momentum follows PyTorch's update, clipping bounds the global norm") {
  auto p = two_params(1.0, 1.0);
  nn::Sgd<double> sgd(p, {.lr = 0.1, .momentum = 0.9});
  p.grad(0) << 1.0, -1.0;
  sgd.step(p);  // b = g
  CHECK(p.value(0)(0) == doctest::Approx(0.9));
  sgd.step(p);  // b = 0.9 g + g = 1.9 g
  CHECK(p.value(0)(0) == doctest::Approx(0.71));
  CHECK(p.value(0)(1) == doctest::Approx(1.29));

  p.grad(0) << 3.0, 4.0;
  const double norm = nn::clip_grad_norm(p, 1.0);
  CHECK(norm == doctest::Approx(5.0));
  CHECK(p.grads().norm() == doctest::Approx(1.0).epsilon(1e-5));
}

TEST_CASE("Initialisation: PyTorch's default bounds, orthogonal rows with the gain") {
  Rng rng(0);
  nn::Mlp<double> mlp({.sizes = {16, 64, 4}}, rng);
  const auto W = mlp.parameters().value(mlp.layers()[0].weight);
  CHECK(W.rows() == 64);
  CHECK(W.cols() == 16);
  CHECK(W.cwiseAbs().maxCoeff() <= 0.25);
  CHECK(W.cwiseAbs().maxCoeff() > 0.24);  // the draws reach the bound 1/√16
  CHECK(W.mean() == doctest::Approx(0.0).epsilon(0.02));

  nn::Mlp<double> ortho({.sizes = {16, 64, 4}, .init = nn::Init::orthogonal, .output_gain = 0.01}, rng);
  const Eigen::MatrixXd W0 = ortho.parameters().value(ortho.layers()[0].weight);  // 64×16: orthonormal columns
  CHECK((W0.transpose() * W0).isApprox(2.0 * Eigen::MatrixXd::Identity(16, 16), 1e-10));
  const Eigen::MatrixXd W1 = ortho.parameters().value(ortho.layers()[1].weight);  // 4×64: orthonormal rows
  CHECK((W1 * W1.transpose()).isApprox(1e-4 * Eigen::MatrixXd::Identity(4, 4), 1e-10));
  CHECK(ortho.parameters().value(ortho.layers()[1].bias).isZero());
}

TEST_CASE("Parameters: one flat buffer, copy and Polyak averaging, layout checks") {
  Rng rng(1);
  nn::Mlp<float> a({.sizes = {3, 8, 1}}, rng), b({.sizes = {3, 8, 1}}, rng);
  CHECK(a.parameters().count() == 4);
  const Eigen::VectorXf a0 = a.parameters().values(), b0 = b.parameters().values();
  nn::polyak_update(a.parameters(), b.parameters(), 0.25f);
  CHECK(b.parameters().values().isApprox(0.75f * b0 + 0.25f * a0));
  b.parameters().copy_from(a.parameters());
  CHECK(b.parameters().values() == a0);
  nn::Mlp<float> other({.sizes = {3, 9, 1}}, rng);
  CHECK_THROWS_AS(nn::polyak_update(a.parameters(), other.parameters(), 0.5f), shape_error);
}

TEST_CASE("An MLP learns sin on [-pi, pi] with Adam (float and double)") {
  auto train = [](auto scalar_tag) {
    using S = decltype(scalar_tag);
    Rng rng(3);
    nn::Mlp<S> mlp({.sizes = {1, 32, 32, 1}, .hidden = Activation::tanh}, rng);
    nn::Adam<S> adam(mlp.parameters(), {.lr = 3e-3});
    autodiff::Tape<S> tape;
    const int batch = 64;
    Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> x(1, batch), y(1, batch);
    double loss = 1e9;
    for (int it = 0; it < 3000; ++it) {
      for (int i = 0; i < batch; ++i) {
        x(0, i) = rng.uniform<S>(-S(std::numbers::pi), S(std::numbers::pi));
        y(0, i) = std::sin(x(0, i));
      }
      tape.clear();
      mlp.parameters().zero_grad();
      auto pred = mlp(tape.view(x.data(), 1, batch));
      auto l = autodiff::mean(autodiff::square(pred - tape.view(y.data(), 1, batch)));
      tape.backward(l);
      adam.step(mlp.parameters());
      loss = l.value()(0, 0);
    }
    // Evaluate on a grid.
    tape.clear();
    tape.set_grad_enabled(false);
    Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> grid(1, 101);
    for (int i = 0; i <= 100; ++i) grid(0, i) = S(-std::numbers::pi + 2 * std::numbers::pi * i / 100.0);
    const auto out = mlp(tape.view(grid.data(), 1, 101)).value();
    double mse = 0;
    for (int i = 0; i <= 100; ++i) mse += std::pow(double(out(0, i)) - std::sin(double(grid(0, i))), 2) / 101;
    return std::pair{loss, mse};
  };
  const auto [lf, mf] = train(float{});
  const auto [ld, md] = train(double{});
  MESSAGE("final batch loss float " << lf << ", double " << ld << "; grid MSE float " << mf << ", double " << md);
  CHECK(mf < 2e-3);
  CHECK(md < 2e-3);
}

TEST_CASE("A training step (forward, backward, Adam) allocates nothing in the steady state") {
  Rng rng(4);
  nn::Mlp<float> mlp({.sizes = {27, 64, 64, 8}, .hidden = Activation::relu}, rng);
  nn::Adam<float> adam(mlp.parameters());
  autodiff::Tape<float> tape;
  Eigen::MatrixXf x = Eigen::MatrixXf::Random(27, 32), y = Eigen::MatrixXf::Random(8, 32);
  auto step = [&] {
    tape.clear();
    mlp.parameters().zero_grad();
    auto l = autodiff::mean(autodiff::square(mlp(tape.view(x.data(), 27, 32)) - tape.view(y.data(), 8, 32)));
    tape.backward(l);
    adam.step(mlp.parameters());
  };
  step();
  const auto before = spindle_test::allocations();
  for (int k = 0; k < 20; ++k) step();
  CHECK(spindle_test::allocations() == before);
}

}  // namespace test_nn
