// Answers the CLI's requests against the scheduler.
//
// Pure apart from the scheduler it drives: the server loop feeds it
// requests and `now`, and sends what it returns. A Watch whose job has not
// changed yet is parked and answered later by Poll().
#ifndef QUARK_CONTROLLER_API_H_
#define QUARK_CONTROLLER_API_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controller/enrollment.h"
#include "controller/scheduler.h"
#include "proto/quark.pb.h"

namespace quark {

struct ApiOptions {
  // Longest long poll a client may ask for, and most parked at once.
  absl::Duration max_watch = absl::Seconds(60);
  size_t max_watches = 10000;
};

// A reply for the client behind `route`.
struct ApiOutbound {
  std::string route;
  proto::ApiReply reply;
};

class Api {
 public:
  Api(Scheduler* scheduler, ApiOptions options);

  // Join tokens and enrollment decisions go to `enrollment` (which must
  // outlive this); without one (no CURVE key) they are refused.
  void SetEnrollment(Enrollment* enrollment) { enrollment_ = enrollment; }

  // Handles one request. Returns its reply, or nothing when it is a parked
  // Watch. Control messages the request caused go to `control`.
  std::optional<proto::ApiReply> Handle(const std::string& route,
                                        const proto::ApiRequest& request,
                                        absl::Time now,
                                        std::vector<Outbound>* control);

  // Replies to parked watches whose job changed or whose time is up.
  std::vector<ApiOutbound> Poll(absl::Time now);

  // When the next parked watch times out; InfiniteFuture() if none.
  absl::Time NextDeadline() const;

 private:
  struct Watch {
    std::string route;
    uint64_t request_id;
    uint64_t job_id;
    uint64_t after_version;
    absl::Time deadline;
  };

  proto::ApiReply Dispatch(const proto::ApiRequest& request, absl::Time now,
                           std::vector<Outbound>* control);
  proto::ApiReply NodesReply(absl::Time now) const;
  std::optional<proto::ApiReply> StartWatch(const std::string& route,
                                            const proto::ApiRequest& request,
                                            absl::Time now);

  proto::ApiReply DispatchEnrollment(const proto::ApiRequest& request,
                                     absl::Time now);

  Scheduler* const scheduler_;
  const ApiOptions options_;
  Enrollment* enrollment_ = nullptr;
  std::vector<Watch> watches_;
};

// An error reply: the status's message with its code mapped to ApiError.
proto::ApiReply ErrorReply(const absl::Status& status);

}  // namespace quark

#endif  // QUARK_CONTROLLER_API_H_
