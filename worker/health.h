// The node's hardware as it reports itself: CPU temperature, the Raspberry
// Pi firmware's throttling bits (common/health.h), available memory and
// load. The worker reads them about once a heartbeat and sends them with
// it; the controller shows them (`quark nodes`, metrics).
//
// Where they come from, under roots that tests replace with a fake tree
// (as node_exporter's --path.sysfs and --path.procfs):
//
//   <sysfs>/class/thermal/thermal_zone*/temp        millidegrees; the hottest
//   <sysfs>/devices/platform/soc/soc:firmware/get_throttled   hex bits
//   <proc>/meminfo (MemAvailable), <proc>/loadavg
//
// A machine without one of them (no thermal zone, not a Pi) reports none
// of it: never an error. Thread-compatible; reads files only.
#ifndef QUARK_WORKER_HEALTH_H_
#define QUARK_WORKER_HEALTH_H_

#include <string>

#include "proto/quark.pb.h"

namespace quark {

struct HealthSources {
  std::string sysfs_root = "/sys";
  std::string proc_root = "/proc";
  std::string cgroup_root = "/sys/fs/cgroup";
};

proto::Health ReadHealth(const HealthSources& sources);

}  // namespace quark

#endif  // QUARK_WORKER_HEALTH_H_
