// The fixture and helpers of the join-token integration tests
// (enroll_test.cc: tokens and approval; enroll_identity_test.cc: re-imaged
// and cloned nodes, a controller crash, hostile input). All on loopback
// with CURVE and without the beacon (workers get --controller and
// --enroll).
#ifndef QUARK_TESTS_INTEGRATION_ENROLL_TEST_H_
#define QUARK_TESTS_INTEGRATION_ENROLL_TEST_H_

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/keys.h"
#include "common/token.h"
#include "common/transport.h"
#include "gtest/gtest.h"
#include "proto/quark.pb.h"
#include "tests/integration/cluster_test.h"
#include "tests/integration/hostile.h"

namespace quark::integration {

namespace fs = std::filesystem;

// A job of a second or two on one single-threaded worker.
inline constexpr uint64_t kSmallHi = 2'000'000'000;

// What a worker logs when the controller refuses to enroll it; the reason
// follows.
inline constexpr char kRefused[] =
    "cannot join error=\"the controller refused to enroll this node: ";

// The secret field of a token: between its 2nd and 3rd '_'.
inline std::string SecretField(const std::string& token) {
  const std::vector<std::string> fields = absl::StrSplit(token, '_');
  return fields.size() == 5 ? fields[2] : "";
}

// The public key a joining worker made for itself, as its worker.pub says.
inline absl::StatusOr<std::string> KeyOfStateDir(const fs::path& state_dir) {
  return KeyInFile(state_dir / "worker.pub");
}

// The token with `id` in `tokens`, or nullptr.
inline const proto::Token* FindToken(const proto::TokenList& tokens,
                                     const std::string& id) {
  for (const proto::Token& t : tokens.tokens()) {
    if (t.id() == id) return &t;
  }
  return nullptr;
}

// A DEALER with a CURVE key of its own, connected from `source` (a
// loopback address) to the enroll port: what a stranger on the LAN can
// do.
inline std::unique_ptr<zmq::socket_t> EnrollClient(
    zmq::context_t& context, const std::string& controller_key,
    const KeyPair& own, const std::string& source, int port) {
  return CurveDealer(context, controller_key, own.public_key, own.secret_key,
                     source, port);
}

// The next reply on `socket` within `timeout`: nullopt when none came.
// A reply that is not one EnrollReply fails the test.
inline std::optional<proto::EnrollReply> NextReply(
    zmq::socket_t& socket, std::chrono::milliseconds timeout) {
  std::optional<std::vector<std::string>> frames =
      ReceiveWithin(socket, timeout);
  if (!frames) return std::nullopt;
  proto::EnrollReply reply;
  EXPECT_EQ(frames->size(), 1u);
  EXPECT_TRUE(reply.ParseFromString(frames->front()));
  return reply;
}

// JoinFlags of a worker that asks for `name`, with its state in
// `state_dir` ("": the cluster's worker_state_dir of the process's name).
inline JoinFlags AskingFor(const std::string& name,
                           const fs::path& state_dir = {}) {
  JoinFlags flags;
  flags.name = name;
  flags.state_dir = state_dir;
  return flags;
}

class EnrollTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    cluster().options().curve = true;  // the beacon stays off
  }

  // A worker started as `name`, asking for that name, with its state in
  // worker_state_dir(name).
  absl::StatusOr<Process*> Join(const std::string& name,
                                const std::string& token,
                                std::vector<std::string> extra_flags = {}) {
    return cluster().StartJoiningWorker(name, token, std::move(extra_flags),
                                        AskingFor(name));
  }

  // Fails unless no node of these names is listed by `quark nodes` or
  // `quark nodes --pending`, nor was ever let in by the controller's log
  // (enrolled or registered).
  void ExpectNeverListed(const std::vector<std::string>& names) {
    ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
    ASSERT_OK_AND_ASSIGN(proto::EnrolledList pending, cluster().PendingNodes());
    const std::string log = cluster().controller()->ReadStderr();
    for (const std::string& name : names) {
      EXPECT_EQ(FindNode(nodes, name), nullptr) << nodes.ShortDebugString();
      for (const proto::EnrolledNode& p : pending.nodes()) {
        EXPECT_NE(p.name(), name) << pending.ShortDebugString();
      }
      for (const char* line : {"node enrolled node=", "node joined node="}) {
        EXPECT_EQ(log.find(absl::StrCat(line, name, " ")), std::string::npos)
            << line << name;
      }
    }
  }

  absl::StatusOr<proto::Token> TokenById(const std::string& id) {
    absl::StatusOr<proto::TokenList> tokens = cluster().Tokens();
    if (!tokens.ok()) return tokens.status();
    const proto::Token* token = FindToken(*tokens, id);
    if (token == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no token ", id, " in ", tokens->ShortDebugString()));
    }
    return *token;
  }

  absl::StatusOr<std::string> ControllerKey() {
    return KeyInFile(cluster().keys_dir() / "controller.pub");
  }

  void ExpectCliOk(std::vector<std::string> args) {
    const CliResult r = cluster().RunCli(std::move(args));
    EXPECT_EQ(r.exit_code, 0) << r.ToString();
  }
};

}  // namespace quark::integration

#endif  // QUARK_TESTS_INTEGRATION_ENROLL_TEST_H_
