#pragma once
// RAII ownership of MuJoCo's model and data. A Model is compiled once and shared read-only
// (shared_ptr) by every copy of an environment; each copy owns its Data.
//
//   auto model = spindle::mujoco::Model::from_file("arm.xml");
//   auto model = spindle::mujoco::Model::from_xml(xml_string);   // through MuJoCo's VFS
#include <mujoco/mujoco.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include "named.hpp"

namespace spindle::mujoco {

/// A model that does not load or compile. what() leads with one line naming the file, the line
/// (when MuJoCo names one) and the reason, followed by MuJoCo's own message.
struct model_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
/// "MuJoCo model <where>, line N: <reason>", then MuJoCo's own multi-line text, indented.
inline std::string model_error_message(const std::string& where, std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  auto number_after = [&](std::string_view key) -> std::string {
    const auto at = text.find(key);
    if (at == std::string::npos) return {};
    std::size_t end = at + key.size();
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    return text.substr(at + key.size(), end - at - key.size());
  };
  std::string line = number_after(", line ");
  if (line.empty()) line = number_after("line = ");
  if (line.empty()) line = number_after("Line number=");
  std::string reason = text.substr(0, text.find('\n'));
  for (std::string_view prefix : {"XML Error: ", "Error: "})
    if (reason.starts_with(prefix)) reason.erase(0, prefix.size());
  std::string message = "MuJoCo model " + where + (line.empty() || line == "0" ? "" : ", line " + line) + ": " + reason;
  if (text.find('\n') == std::string::npos) return message;
  message += "\n  MuJoCo: ";
  for (char c : text) message += c == '\n' ? std::string("\n  ") : std::string(1, c);
  return message;
}
}  // namespace detail

/// MuJoCo reported an error (mju_error) while simulating, e.g. its stack ran out. The
/// environment's data is undefined afterwards: reset it before stepping again.
struct simulation_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
inline thread_local std::string last_warning;
inline void keep_warning(const char* message) { last_warning = message; }
[[noreturn]] inline void throw_error(const char* message) { throw simulation_error(std::string("MuJoCo: ") + message); }
/// Routes MuJoCo's warning and error callbacks to spindle (once per process) unless the
/// program installed its own. Without a callback MuJoCo appends to MUJOCO_LOG.TXT in the
/// working directory, prints, and on errors exits the process.
inline void route_mujoco_messages() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!mju_user_warning) mju_user_warning = &keep_warning;
    if (!mju_user_error) mju_user_error = &throw_error;
  });
}
}  // namespace detail

class Model {
 public:
  /// Loads and compiles an MJCF (or URDF) file.
  static Model from_file(const std::filesystem::path& path) {
    detail::route_mujoco_messages();
    if (!std::filesystem::exists(path))
      throw model_error("MuJoCo model '" + path.string() + "': no such file");
    char error[1024] = "";
    mjModel* m = mj_loadXML(path.c_str(), nullptr, error, sizeof error);
    if (!m) throw model_error(detail::model_error_message("'" + path.string() + "'", error));
    return Model(m, path.string());
  }

  /// Compiles MJCF text given in memory (written into a MuJoCo VFS under `name`; files it
  /// includes are looked up on disk relative to the working directory).
  static Model from_xml(std::string_view xml, const std::string& name = "model.xml") {
    detail::route_mujoco_messages();
    auto vfs = std::make_unique<mjVFS>();  // large (file table): keep it off the stack
    mj_defaultVFS(vfs.get());
    if (mj_makeEmptyFileVFS(vfs.get(), name.c_str(), static_cast<int>(xml.size()) + 1) != 0)
      throw model_error("MuJoCo model '" + name + "': could not create the in-memory file");
    const int i = mj_findFileVFS(vfs.get(), name.c_str());
    char* data = static_cast<char*>(vfs->filedata[i]);
    xml.copy(data, xml.size());
    data[xml.size()] = '\0';
    char error[1024] = "";
    mjModel* m = mj_loadXML(name.c_str(), vfs.get(), error, sizeof error);
    mj_deleteVFS(vfs.get());
    if (!m) throw model_error(detail::model_error_message("'" + name + "' (in memory)", error));
    return Model(m, name);
  }

  /// A copy of this model changed by `edit` — per-episode physics that needs no recompiling
  /// (masses, sizes, friction), e.g. model.edited([&](mjModel& m) { m.body_mass[ball] = 0.2; }).
  Model edited(const std::function<void(mjModel&)>& edit) const {
    mjModel* m = mj_copyModel(nullptr, model_.get());
    if (!m) throw model_error("MuJoCo model '" + source_ + "': could not copy it");
    try {
      edit(*m);
    } catch (...) {
      mj_deleteModel(m);
      throw;
    }
    return Model(m, source_);
  }

  const mjModel* get() const noexcept { return model_.get(); }
  const mjModel& operator*() const noexcept { return *model_; }
  const mjModel* operator->() const noexcept { return model_.get(); }
  const std::string& source() const noexcept { return source_; }

  /// Index of a named object (mjOBJ_BODY, mjOBJ_JOINT, ...); throws naming it when absent.
  int id(mjtObj type, const std::string& name) const {
    const int i = mj_name2id(model_.get(), type, name.c_str());
    if (i < 0) {
      const char* kind = mju_type2Str(type);
      throw std::invalid_argument("MuJoCo model '" + source_ + "': no " + (kind ? kind : "object") + " named '" + name + "'");
    }
    return i;
  }

  /// Named handles (named.hpp), resolved now; each throws naming what is missing.
  BodyId body(const std::string& name) const { return {id(mjOBJ_BODY, name)}; }
  SiteId site(const std::string& name) const { return {id(mjOBJ_SITE, name)}; }
  GeomId geom(const std::string& name) const { return {id(mjOBJ_GEOM, name)}; }
  JointId joint(const std::string& name) const { return {id(mjOBJ_JOINT, name)}; }
  SensorId sensor(const std::string& name) const { return {id(mjOBJ_SENSOR, name)}; }
  TendonId tendon(const std::string& name) const { return {id(mjOBJ_TENDON, name)}; }
  ActuatorId actuator(const std::string& name) const { return {id(mjOBJ_ACTUATOR, name)}; }

 private:
  Model(mjModel* m, std::string source) : model_(m, &mj_deleteModel), source_(std::move(source)) {}
  std::shared_ptr<const mjModel> model_;
  std::string source_;
};

/// One simulation state for a model; copies are deep (mj_copyData).
class Data {
 public:
  explicit Data(const Model& model) : model_(model.get()), data_(mj_makeData(model.get())) {
    if (!data_) throw std::runtime_error("MuJoCo: mj_makeData failed for '" + model.source() + "'");
  }
  Data(const Data& other) : model_(other.model_), data_(mj_makeData(other.model_)) {
    if (!data_) throw std::runtime_error("MuJoCo: mj_makeData failed");
    mj_copyData(data_.get(), model_, other.data_.get());
  }
  Data& operator=(const Data& other) {
    if (this != &other) *this = Data(other);
    return *this;
  }
  Data(Data&&) noexcept = default;
  Data& operator=(Data&&) noexcept = default;

  mjData* get() noexcept { return data_.get(); }
  const mjData* get() const noexcept { return data_.get(); }
  mjData* operator->() noexcept { return data_.get(); }
  const mjData* operator->() const noexcept { return data_.get(); }

 private:
  struct Deleter {
    void operator()(mjData* d) const noexcept { mj_deleteData(d); }
  };
  const mjModel* model_;
  std::unique_ptr<mjData, Deleter> data_;
};

}  // namespace spindle::mujoco
