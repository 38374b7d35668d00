// A fresh directory of fake system files (/proc, /sys, a cgroup tree) for
// the readings that take their roots as arguments; removed with it.
#ifndef QUARK_TESTS_TESTUTIL_FAKE_TREE_H_
#define QUARK_TESTS_TESTUTIL_FAKE_TREE_H_

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace quark::testutil {

class FakeTree {
 public:
  FakeTree() {
    root_ = std::filesystem::temp_directory_path() /
            ("quark-tree-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter_++));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  ~FakeTree() { std::filesystem::remove_all(root_); }
  FakeTree(const FakeTree&) = delete;
  FakeTree& operator=(const FakeTree&) = delete;

  // Writes `text` to `path` (relative to the root), making its directories.
  void Write(const std::string& path, const std::string& text) const {
    const std::filesystem::path p = root_ / path;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  // The absolute path of `path` under the root; made as a directory.
  std::string Dir(const std::string& path) const {
    std::filesystem::create_directories(root_ / path);
    return (root_ / path).string();
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path root_;
};

}  // namespace quark::testutil

#endif  // QUARK_TESTS_TESTUTIL_FAKE_TREE_H_
