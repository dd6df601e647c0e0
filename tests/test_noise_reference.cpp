// Every case of ../shared/reference/noise_vectors.json (SB3 2.2.1 and the Lattice authors'
// code, float64) reproduced from the recorded standard normals to 1e-9 relative.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <spindle/noise.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_noise_reference {

using namespace spindle;
using json = nlohmann::json;
using Mat = Eigen::MatrixXd;

namespace {

std::filesystem::path reference_file() { return std::filesystem::path(SPINDLE_SOURCE_DIR) / ".." / "shared" / "reference" / "noise_vectors.json"; }

Mat matrix(const json& j) {  // 1-D → column, 2-D → rows × cols
  if (!j.is_array() || j.empty()) return Mat(0, 0);
  if (!j[0].is_array()) {
    Mat m(static_cast<Eigen::Index>(j.size()), 1);
    for (std::size_t i = 0; i < j.size(); ++i) m(static_cast<Eigen::Index>(i), 0) = j[i].get<double>();
    return m;
  }
  Mat m(static_cast<Eigen::Index>(j.size()), static_cast<Eigen::Index>(j[0].size()));
  for (std::size_t i = 0; i < j.size(); ++i)
    for (std::size_t k = 0; k < j[i].size(); ++k) m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(k)) = j[i][k].get<double>();
  return m;
}
std::vector<Mat> stack(const json& j) {  // 3-D → list of matrices
  std::vector<Mat> out;
  for (const auto& m : j) out.push_back(matrix(m));
  return out;
}
Mat side_by_side(const std::vector<Mat>& ms) {
  Mat out(ms[0].rows(), 0);
  for (const auto& m : ms) {
    Mat next(out.rows(), out.cols() + m.cols());
    next << out, m;
    out = next;
  }
  return out;
}

void set(nn::Parameters<double>& p, const std::string& name, const Mat& value) {
  for (int i = 0; i < p.count(); ++i)
    if (p.slot(i).name == name) {
      check_shape(value, p.slot(i).rows, p.slot(i).cols, "set", name);
      p.value(i) = value;
      return;
    }
  FAIL("no parameter named " << name);
}

struct Errors {
  double worst = 0;
  std::string where;
  int compared = 0;
  void compare(const std::string& what, const Mat& got, const Mat& want) {
    REQUIRE_MESSAGE(got.rows() == want.rows(), what);
    REQUIRE_MESSAGE(got.cols() == want.cols(), what);
    for (Eigen::Index i = 0; i < want.size(); ++i) {
      // relative error; values of magnitude below 1e-3 are compared absolutely at that scale
      const double e = std::abs(got(i) - want(i)) / std::max(std::abs(want(i)), 1e-3);
      ++compared;
      if (e > worst) {
        worst = e;
        where = what;
      }
    }
  }
};

Mat row(const autodiff::Var<double>& v) { return v.value(); }          // 1 × B
Mat batch(const autodiff::Var<double>& v) { return v.value().transpose(); }  // A × B → B × A

}  // namespace

TEST_CASE("noise reference vectors: every case of noise_vectors.json to 1e-9 relative") {
  const auto path = reference_file();
  if (!std::filesystem::exists(path)) {
    MESSAGE("SKIPPED: " << path.string() << " not found (the shared reference data lives beside the repository)");
    return;
  }
  std::ifstream in(path);
  const json doc = json::parse(in);
  double worst = 0;
  std::string worst_case;
  int cases = 0, values = 0;
  for (const auto& c : doc["cases"]) {
    const std::string name = c["name"], kind = c["kind"];
    CAPTURE(name);
    const json &P = c["params"], &I = c["inputs"], &O = c["outputs"];
    const auto L = P["latent_dim"].get<Eigen::Index>(), A = P["action_dim"].get<Eigen::Index>();
    nn::Parameters<double> p;
    Rng rng(1);
    autodiff::Tape<double> t;
    const auto z = t.constant(matrix(I["latent"]).transpose());
    const auto given = t.constant(matrix(I["given_actions"]).transpose());
    Errors e;
    if (kind == "diag_gaussian") {
      noise::DiagGaussian<double> h(L, A, p, rng);
      set(p, "action.weight", matrix(I["W"]));
      set(p, "action.bias", matrix(I["b"]));
      set(p, "log_std", matrix(I["log_std"]));
      const auto s = h.sample(p, z, matrix(I["std_normal_noise"]).transpose());
      e.compare("mean_actions", batch(h.mean(p, z)), matrix(O["mean_actions"]));
      e.compare("std", Mat(h.std(p, t).value().transpose().replicate(3, 1)), matrix(O["std"]));
      e.compare("sampled_actions", batch(s.action), matrix(O["sampled_actions"]));
      e.compare("log_prob_sampled", row(s.log_prob), matrix(O["log_prob_sampled"]).transpose());
      e.compare("log_prob_given", row(h.log_prob(p, z, given)), matrix(O["log_prob_given"]).transpose());
      e.compare("entropy", row(*h.entropy(p, z)), matrix(O["entropy"]).transpose());
      e.compare("mode", batch(h.mode(p, z)), matrix(O["mode"]));
    } else if (kind == "squashed_diag_gaussian") {
      noise::SquashedGaussian<double> h(L, A, p, rng);
      set(p, "action.weight", matrix(I["W"]));
      set(p, "action.bias", matrix(I["b"]));
      set(p, "log_std.weight", matrix(I["W_log_std"]));
      set(p, "log_std.bias", matrix(I["b_log_std"]));
      const auto s = h.sample_detailed(p, z, matrix(I["std_normal_noise"]).transpose());
      e.compare("mean_actions", batch(h.mean(p, z)), matrix(O["mean_actions"]));
      e.compare("log_std", batch(h.log_std(p, z)), matrix(O["log_std"]));
      e.compare("gaussian_actions", batch(s.gaussian), matrix(O["gaussian_actions"]));
      e.compare("sampled_actions", batch(s.action), matrix(O["sampled_actions"]));
      e.compare("log_prob_sampled_with_gaussian", row(s.log_prob), matrix(O["log_prob_sampled_with_gaussian"]).transpose());
      e.compare("log_prob_sampled_via_atanh", row(h.log_prob(p, z, s.action)), matrix(O["log_prob_sampled_via_atanh"]).transpose());
      e.compare("log_prob_given", row(h.log_prob(p, z, given)), matrix(O["log_prob_given"]).transpose());
      CHECK(O["entropy"].is_null());
      CHECK_FALSE(h.entropy(p, z).has_value());
      e.compare("mode", batch(h.mode(p, z)), matrix(O["mode"]));
    } else if (kind == "gsde") {
      noise::Gsde<double>::Config cfg;
      cfg.full_std = P["full_std"];
      cfg.use_expln = P["use_expln"];
      cfg.squash_output = P["squash_output"];
      cfg.learn_features = P["learn_features"];
      cfg.epsilon = P["epsilon"];
      noise::Gsde<double> h(L, A, p, rng, cfg);
      set(p, "action.weight", matrix(I["W"]));
      set(p, "action.bias", matrix(I["b"]));
      set(p, "log_std", matrix(I["log_std"]));
      h.set_exploration_normals(p, side_by_side(stack(I["std_normal_matrices"])));
      e.compare("std_matrix", h.std_matrix(p, t).value(), matrix(O["std_matrix"]));
      e.compare("exploration_matrices", h.exploration_matrices(), side_by_side(stack(O["exploration_matrices"])));
      e.compare("mean_actions", batch(h.mean(p, z)), matrix(O["mean_actions"]));
      e.compare("variance", batch(h.variance(p, z)), matrix(O["variance"]));
      e.compare("dist_std", batch(h.std(p, z)), matrix(O["dist_std"]));
      const auto s = h.explore(p, z, rng);
      e.compare("sampled_actions", batch(s.action), matrix(O["sampled_actions"]));
      if (!cfg.squash_output) {
        e.compare("noise", Mat(batch(s.action) - batch(h.mean(p, z))), matrix(O["noise"]));
        e.compare("log_prob_sampled (from u)", row(s.log_prob), matrix(O["log_prob_sampled"]).transpose());
      }
      e.compare("log_prob_sampled", row(h.log_prob(p, z, s.action)), matrix(O["log_prob_sampled"]).transpose());
      e.compare("log_prob_given", row(h.log_prob(p, z, given)), matrix(O["log_prob_given"]).transpose());
      if (O["entropy"].is_null())
        CHECK_FALSE(h.entropy(p, z).has_value());
      else
        e.compare("entropy", row(*h.entropy(p, z)), matrix(O["entropy"]).transpose());
      e.compare("mode", batch(h.mode(p, z)), matrix(O["mode"]));
    } else if (kind == "lattice_sde") {
      noise::Lattice<double>::Config cfg;
      cfg.full_std = P["full_std"];
      cfg.use_expln = P["use_expln"];
      cfg.squash_output = P["squash_output"];
      cfg.learn_features = P["learn_features"];
      cfg.epsilon = P["epsilon"];
      cfg.std_min = P["std_clip"][0];
      cfg.std_max = P["std_clip"][1];
      cfg.std_reg = P["std_reg"];
      cfg.alpha = P["alpha"];
      cfg.clip_mean = P["clip_mean"];
      noise::Lattice<double> h(L, A, p, rng, cfg);
      set(p, "action.weight", matrix(I["W"]));
      set(p, "action.bias", matrix(I["b"]));
      set(p, "log_std", matrix(I["log_std"]));
      const auto Nc = stack(I["std_normal_corr_matrices"]), Ni = stack(I["std_normal_ind_matrices"]);
      std::vector<Mat> blocks;
      for (std::size_t i = 0; i < Nc.size(); ++i) {
        blocks.push_back(Nc[i]);
        blocks.push_back(Ni[i]);
      }
      h.set_exploration_normals(p, side_by_side(blocks));
      const Mat s = h.std_matrix(p, t).value();
      e.compare("corr_std", s.leftCols(L), matrix(O["corr_std"]));
      e.compare("ind_std", s.rightCols(A), matrix(O["ind_std"]));
      const auto Ec = stack(O["corr_exploration_matrices"]), Ei = stack(O["ind_exploration_matrices"]);
      for (std::size_t i = 0; i < Ec.size(); ++i) {
        const auto block = h.exploration_matrices().middleCols(static_cast<Eigen::Index>(i) * (L + A), L + A);
        e.compare("corr_exploration_matrices", block.leftCols(L), Ec[i]);
        e.compare("ind_exploration_matrices", block.rightCols(A), Ei[i]);
      }
      e.compare("mean_actions", batch(h.mean(p, z)), matrix(O["mean_actions"]));
      const Mat v = batch(h.variances(p, z));
      e.compare("latent_ind_variance", v.leftCols(A), matrix(O["latent_ind_variance"]));
      e.compare("latent_corr_variance", v.rightCols(L), matrix(O["latent_corr_variance"]));
      const auto cov = stack(O["covariance"]);
      for (Eigen::Index b = 0; b < 3; ++b) e.compare("covariance", h.covariance(p, z, b), cov[static_cast<std::size_t>(b)]);
      const auto smp = h.explore(p, z, rng);
      e.compare("sampled_actions", batch(smp.action), matrix(O["sampled_actions"]));
      if (!cfg.squash_output) e.compare("log_prob_sampled (from u)", row(smp.log_prob), matrix(O["log_prob_sampled"]).transpose());
      e.compare("log_prob_sampled", row(h.log_prob(p, z, smp.action)), matrix(O["log_prob_sampled"]).transpose());
      e.compare("log_prob_given", row(h.log_prob(p, z, given)), matrix(O["log_prob_given"]).transpose());
      if (O["entropy"].is_null())
        CHECK_FALSE(h.entropy(p, z).has_value());
      else
        e.compare("entropy", row(*h.entropy(p, z)), matrix(O["entropy"]).transpose());
      e.compare("mode", batch(h.mode(p, z)), matrix(O["mode"]));
    } else if (kind == "lattice_plain" || kind == "lattice_squashed") {
      noise::LatticePlain<double>::Config cfg;
      cfg.state_dependent = P["state_dependent"];
      cfg.squash_output = kind == "lattice_squashed";
      cfg.log_std_init = P["log_std_init"];
      if (!P["epsilon"].is_null()) cfg.epsilon = P["epsilon"];
      noise::LatticePlain<double> h(L, A, p, rng, cfg);
      set(p, "action.weight", matrix(I["W"]));
      set(p, "action.bias", matrix(I["b"]));
      if (cfg.state_dependent) {
        set(p, "log_std.weight", matrix(I["W_log_std"]));
        set(p, "log_std.bias", matrix(I["b_log_std"]));
      } else {
        set(p, "log_std", matrix(I["log_std"]));
      }
      const auto cov = stack(O["covariance"]), tril = stack(O["scale_tril"]);
      for (Eigen::Index b = 0; b < 3; ++b) {
        const Mat sigma = h.covariance(p, z, b);
        e.compare("covariance", sigma, cov[static_cast<std::size_t>(b)]);
        e.compare("scale_tril", Mat(sigma.llt().matrixL()), tril[static_cast<std::size_t>(b)]);
      }
      e.compare("mean_actions", batch(h.mean(p, z)), matrix(O["mean_actions"]));
      const auto smp = h.sample(p, z, matrix(I["std_normal_noise"]).transpose());
      e.compare("sampled_actions", batch(smp.action), matrix(O["sampled_actions"]));
      if (!cfg.squash_output) e.compare("gaussian_actions", batch(smp.action), matrix(O["gaussian_actions"]));
      e.compare("log_prob_sampled", row(smp.log_prob), matrix(O["log_prob_sampled"]).transpose());
      if (!O["log_prob_sampled_via_atanh"].is_null())
        e.compare("log_prob_sampled_via_atanh", row(h.log_prob(p, z, smp.action)), matrix(O["log_prob_sampled_via_atanh"]).transpose());
      e.compare("log_prob_given", row(h.log_prob(p, z, given)), matrix(O["log_prob_given"]).transpose());
      if (O["entropy"].is_null())
        CHECK_FALSE(h.entropy(p, z).has_value());
      else
        e.compare("entropy", row(*h.entropy(p, z)), matrix(O["entropy"]).transpose());
    } else {
      FAIL("unknown kind " << kind);
    }
    CHECK_MESSAGE(e.worst < 1e-9, name << ": worst relative error " << e.worst << " in " << e.where);
    if (e.worst > worst) {
      worst = e.worst;
      worst_case = name + " / " + e.where;
    }
    ++cases;
    values += e.compared;
  }
  CHECK(cases == doc["meta"]["n_cases"].get<int>());
  std::cout << "noise reference vectors: " << cases << " cases, " << values << " values, worst relative error "
            << worst << " (" << worst_case << ")\n";
}

}  // namespace test_noise_reference
