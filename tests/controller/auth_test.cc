// The controller's ZAP handler and its exposure rules (controller/auth.h,
// controller/server.h).
#include "controller/auth.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/token.h"
#include "common/transport.h"
#include "controller/enrollment.h"
#include "controller/server.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

namespace fs = std::filesystem;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("auth_test." + std::to_string(::getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    worker_ = *GenerateKeyPair();
    stranger_ = *GenerateKeyPair();
    operator_ = *GenerateKeyPair();
    options_.workers_path = Write("workers", "w1 " + worker_.public_key + "\n");
    options_.operators_path =
        Write("operators", "ann " + operator_.public_key + "\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::trunc) << text;
    return (dir_ / name).string();
  }

  // A ZAP request as libzmq sends it for a CURVE client with `key`.
  static std::vector<std::string> Request(const std::string& domain,
                                          const std::string& key) {
    std::string raw(32, '\0');
    zmq_z85_decode(reinterpret_cast<uint8_t*>(raw.data()), key.c_str());
    return {"1.0", "7", domain, "192.168.1.20", "", "CURVE", raw};
  }

  fs::path dir_;
  KeyPair worker_, stranger_, operator_;
  AuthOptions options_;
};

TEST_F(AuthTest, DecidesByDomainAndKey) {
  auto auth = Authenticator::ForLists(options_);
  ASSERT_TRUE(auth.ok()) << auth.status();
  ZapVerdict v = (*auth)->Decide(Request(kWorkerDomain, worker_.public_key));
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ(v.user_id, worker_.public_key);
  EXPECT_FALSE(
      (*auth)->Decide(Request(kWorkerDomain, stranger_.public_key)).allowed);
  // A worker key is no operator key, and the other way round.
  EXPECT_FALSE(
      (*auth)->Decide(Request(kOperatorDomain, worker_.public_key)).allowed);
  EXPECT_FALSE(
      (*auth)->Decide(Request(kWorkerDomain, operator_.public_key)).allowed);
  EXPECT_TRUE(
      (*auth)->Decide(Request(kOperatorDomain, operator_.public_key)).allowed);
  EXPECT_FALSE((*auth)->Decide(Request("other", worker_.public_key)).allowed);
}

TEST_F(AuthTest, RefusesMalformedAndOtherMechanisms) {
  auto auth = Authenticator::ForLists(options_);
  ASSERT_TRUE(auth.ok());
  std::vector<std::string> r = Request(kWorkerDomain, worker_.public_key);
  auto with = [&](size_t i, std::string value) {
    std::vector<std::string> copy = r;
    copy[i] = std::move(value);
    return (*auth)->Decide(copy).allowed;
  };
  EXPECT_FALSE(with(0, "2.0"));
  EXPECT_FALSE(with(5, "NULL"));
  EXPECT_FALSE(with(5, "PLAIN"));
  EXPECT_FALSE(with(6, std::string(31, 'x')));
  EXPECT_FALSE((*auth)->Decide({}).allowed);
  EXPECT_FALSE((*auth)->Decide({"1.0", "1", kWorkerDomain}).allowed);
  std::vector<std::string> extra = r;
  extra.push_back("more");
  EXPECT_FALSE((*auth)->Decide(extra).allowed);
}

TEST_F(AuthTest, ReloadTakesNewListsAndKeepsOldOnesOnError) {
  auto auth = Authenticator::ForLists(options_);
  ASSERT_TRUE(auth.ok());
  Write("workers", "w2 " + stranger_.public_key + "\n");
  ASSERT_TRUE((*auth)->Reload().ok());
  EXPECT_EQ((*auth)->NameOf(kWorkerDomain, worker_.public_key), nullptr);
  ASSERT_NE((*auth)->NameOf(kWorkerDomain, stranger_.public_key), nullptr);

  Write("workers", "w3 not-a-key\n");
  absl::Status s = (*auth)->Reload();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("workers:1:"), std::string::npos) << s;
  EXPECT_NE((*auth)->NameOf(kWorkerDomain, stranger_.public_key), nullptr)
      << "a bad file must leave the old list in force";
  fs::remove(dir_ / "operators");
  EXPECT_FALSE((*auth)->Reload().ok());
  EXPECT_NE((*auth)->NameOf(kOperatorDomain, operator_.public_key), nullptr);
}

// Enrolled keys are let in too, and into the enroll domain any key is;
// a name that authorized_workers gives to another key wins over an
// enrolled one (one key per name).
TEST_F(AuthTest, EnrolledKeysAndTheEnrollDomain) {
  auto auth = Authenticator::ForLists(options_);
  ASSERT_TRUE(auth.ok());
  EnrollmentOptions eo;
  eo.controller_key = GenerateKeyPair()->public_key;
  Enrollment enrollment(eo);
  (*auth)->SetEnrolled(&enrollment);
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  const JoinToken token = *ParseJoinToken(
      enrollment.CreateToken(proto::CreateToken(), now)->token());
  class NoNames : public NodeNames {
    bool Listed(const std::string&) const override { return false; }
    bool Connected(const std::string&) const override { return false; }
  } names;
  proto::EnrollRequest request;
  request.set_protocol_version(kProtocolVersion);
  request.set_token_id(token.id);
  request.set_name("n3");
  request.set_proof(EnrollProof(token, stranger_.public_key));
  ASSERT_EQ(enrollment.Enroll(request, stranger_.public_key, "x", now, names)
                .reply.status(),
            proto::EnrollReply::ACCEPTED);
  const std::string* name =
      (*auth)->NameOf(kWorkerDomain, stranger_.public_key);
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(*name, "n3");
  EXPECT_TRUE(
      (*auth)->Decide(Request(kWorkerDomain, stranger_.public_key)).allowed);

  const KeyPair anyone = *GenerateKeyPair();
  EXPECT_TRUE(
      (*auth)->Decide(Request(kEnrollDomain, anyone.public_key), now).allowed);
  EXPECT_FALSE(
      (*auth)->Decide(Request(kWorkerDomain, anyone.public_key), now).allowed);

  Write("workers",
        "w1 " + worker_.public_key + "\nn3 " + operator_.public_key + "\n");
  ASSERT_TRUE((*auth)->Reload().ok());
  EXPECT_TRUE((*auth)->ListsWorker("n3"));
  EXPECT_EQ((*auth)->NameOf(kWorkerDomain, stranger_.public_key), nullptr);
  ASSERT_NE((*auth)->NameOf(kWorkerDomain, operator_.public_key), nullptr);
}

// Anyone may knock at the enroll socket; nobody a hundred times a second.
TEST_F(AuthTest, EnrollHandshakesAreRateLimitedPerAddress) {
  auto auth = Authenticator::ForLists(options_);
  ASSERT_TRUE(auth.ok());
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  int allowed = 0;
  for (int i = 0; i < 100; ++i) {
    allowed += (*auth)
                   ->Decide(Request(kEnrollDomain, stranger_.public_key), now)
                   .allowed;
  }
  EXPECT_EQ(allowed, 10);
  std::vector<std::string> elsewhere =
      Request(kEnrollDomain, stranger_.public_key);
  elsewhere[3] = "10.0.0.99";
  EXPECT_TRUE((*auth)->Decide(elsewhere, now).allowed);
  EXPECT_TRUE((*auth)
                  ->Decide(Request(kEnrollDomain, stranger_.public_key),
                           now + absl::Seconds(1))
                  .allowed);
}

// The handler on a real socket: the listed key gets in, with its key as
// the User-Id of its messages; a stranger's handshake fails.
TEST_F(AuthTest, HandlerAdmitsListedKeysOnly) {
  zmq::context_t context;
  const KeyPair server = *GenerateKeyPair();
  auto auth = Authenticator::Start(context, options_);
  ASSERT_TRUE(auth.ok()) << auth.status();
  zmq::socket_t pull(context, zmq::socket_type::pull);
  ASSERT_TRUE(
      ConfigureCurveServer(pull, server.secret_key, kWorkerDomain).ok());
  pull.set(zmq::sockopt::linger, 0);
  pull.bind("tcp://127.0.0.1:*");
  const std::string endpoint = pull.get(zmq::sockopt::last_endpoint);

  auto push_from = [&](const KeyPair& own, const char* text) {
    auto push =
        std::make_unique<zmq::socket_t>(context, zmq::socket_type::push);
    EXPECT_TRUE(ConfigureCurveClient(*push, server.public_key, own).ok());
    push->set(zmq::sockopt::linger, 0);
    push->connect(endpoint);
    push->send(zmq::buffer(std::string(text)), zmq::send_flags::dontwait);
    return push;
  };
  auto stranger = push_from(stranger_, "stranger");
  auto worker = push_from(worker_, "worker");

  std::vector<std::pair<std::string, std::string>> got;  // text, User-Id
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < end) {
    zmq::pollitem_t items[] = {{(*auth)->socket().handle(), 0, ZMQ_POLLIN, 0},
                               {pull.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(50));
    if (items[0].revents & ZMQ_POLLIN) (*auth)->HandleRequest(absl::Now());
    if (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t msg;
      ASSERT_TRUE(pull.recv(msg));
      got.emplace_back(msg.to_string(), FrameProperty(msg, "User-Id"));
    }
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "worker");
  EXPECT_EQ(got[0].second, worker_.public_key);
  EXPECT_GE((*auth)->refused(), 1u);
}

TEST(CheckExposureTest, PlainSocketsOnlyOnLoopbackUnlessInsecure) {
  ServerOptions local;
  local.control_endpoint = "tcp://127.0.0.1:7700";
  local.collect_endpoint = "tcp://127.0.0.1:7701";
  local.api_endpoint = "tcp://127.0.0.1:7702";
  EXPECT_TRUE(CheckExposure(local).ok());

  ServerOptions lan = local;
  lan.control_endpoint = "tcp://*:7700";
  lan.collect_endpoint = "tcp://*:7701";
  absl::Status s = CheckExposure(lan);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("tcp://*:7700"), std::string::npos) << s;
  lan.key = *GenerateKeyPair();
  EXPECT_TRUE(CheckExposure(lan).ok());

  // The API beyond loopback needs operator keys, even with a worker key.
  lan.api_endpoint = "tcp://0.0.0.0:7702";
  s = CheckExposure(lan);
  EXPECT_NE(s.message().find("operator keys"), std::string::npos) << s;
  lan.auth.operators_path = "/etc/quark/authorized_operators";
  EXPECT_TRUE(CheckExposure(lan).ok());

  ServerOptions open = local;
  open.control_endpoint = "tcp://*:7700";
  open.api_endpoint = "tcp://*:7702";
  EXPECT_FALSE(CheckExposure(open).ok());
  open.insecure = true;
  EXPECT_TRUE(CheckExposure(open).ok());
}

}  // namespace
}  // namespace quark
