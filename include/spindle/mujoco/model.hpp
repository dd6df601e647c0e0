#pragma once
// RAII ownership of MuJoCo's model and data. A Model is compiled once and shared read-only
// (shared_ptr) by every copy of an environment; each copy owns its Data.
//
//   auto model = spindle::mujoco::Model::from_file("arm.xml");
//   auto model = spindle::mujoco::Model::from_xml(xml_string);   // through MuJoCo's VFS
#include <mujoco/mujoco.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace spindle::mujoco {

/// A model that does not load or compile; what() carries MuJoCo's own message (file and line).
struct model_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Model {
 public:
  /// Loads and compiles an MJCF (or URDF) file.
  static Model from_file(const std::filesystem::path& path) {
    if (!std::filesystem::exists(path))
      throw model_error("MuJoCo model '" + path.string() + "': no such file");
    char error[1024] = "";
    mjModel* m = mj_loadXML(path.c_str(), nullptr, error, sizeof error);
    if (!m) throw model_error("MuJoCo model '" + path.string() + "': " + error);
    return Model(m, path.string());
  }

  /// Compiles MJCF text given in memory (written into a MuJoCo VFS under `name`; files it
  /// includes are looked up on disk relative to the working directory).
  static Model from_xml(std::string_view xml, const std::string& name = "model.xml") {
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
    if (!m) throw model_error("MuJoCo model '" + name + "' (in memory): " + error);
    return Model(m, name);
  }

  const mjModel* get() const noexcept { return model_.get(); }
  const mjModel& operator*() const noexcept { return *model_; }
  const mjModel* operator->() const noexcept { return model_.get(); }
  const std::string& source() const noexcept { return source_; }

  /// Index of a named object (mjOBJ_BODY, mjOBJ_JOINT, ...); throws naming it when absent.
  int id(mjtObj type, const std::string& name) const {
    const int i = mj_name2id(model_.get(), type, name.c_str());
    if (i < 0) throw std::invalid_argument("MuJoCo model '" + source_ + "': no object named '" + name + "'");
    return i;
  }

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
