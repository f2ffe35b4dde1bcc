// registry-etcd and an etcd that restarts, loses its data, or loses a cluster member: the
// registration comes back by itself.
#include "registry_etcd_helpers.h"

using namespace regetcd_test;
using micro::test::EtcdCluster;
using micro::test::EtcdServer;
using micro::test::wait_for;

TEST_CASE("a registration survives an etcd restart with the same data dir") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  r->register_service(service("greeter", "greeter-1"), ttl(3));
  etcd.kill();
  etcd.start();
  // Longer than the ttl: only the keeper can have kept it.
  auto w = r->watch();
  CHECK_FALSE(next_matching(*w, "delete", "greeter-1", std::chrono::seconds(5)).has_value());
  CHECK(has_node(*r, "greeter", "greeter-1"));
  r->register_service(service("greeter", "greeter-1"), ttl(3));  // the heartbeat works again
}

TEST_CASE("a registration comes back by itself after etcd lost its data") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  r->register_service(service("greeter", "greeter-1"), ttl(3));
  etcd.kill();
  etcd.wipe();
  etcd.start();
  CHECK(wait_for([&] { return etcd.get("/micro/registry/greeter/greeter-1").has_value(); },
                 std::chrono::seconds(15)));
  CHECK(has_node(*r, "greeter", "greeter-1"));
}

TEST_CASE("a heartbeat while etcd is down reports unavailable, and recovers after") {
  EtcdServer etcd;
  auto r = open(etcd.address(), "{}", std::chrono::milliseconds(1000));
  auto s = service("greeter", "greeter-1");
  r->register_service(s, ttl(2));
  etcd.kill();
  // Once the keeper noticed, the heartbeat checks etcd itself.
  CHECK(wait_for(
      [&] { return errc_of([&] { r->register_service(s, ttl(2)); }) == micro::Errc::unavailable; },
      std::chrono::seconds(10)));
  etcd.start();
  CHECK(
      wait_for([&] { return errc_of([&] { r->register_service(s, ttl(2)); }) == micro::Errc::ok; },
               std::chrono::seconds(15)));
  CHECK(has_node(*r, "greeter", "greeter-1"));
}

TEST_CASE("with three etcd members, killing one keeps registration, reads and watch working") {
  EtcdCluster cluster(3);
  // Killing the leader means an election (etcd's election timeout is 1 s, randomised up to 2 s,
  // longer on a loaded machine): give each call the time to wait it out.
  auto r = open(cluster.addresses(), "{}", std::chrono::seconds(10));
  auto w = r->watch();
  r->register_service(service("greeter", "greeter-1"), ttl(2));
  REQUIRE(next_matching(*w, "create", "greeter-1").has_value());
  cluster.member(0).kill();  // the first address, the one in use
  r->register_service(service("greeter", "greeter-2"), ttl(2));
  CHECK(next_matching(*w, "create", "greeter-2").has_value());
  CHECK(wait_for([&] { return has_node(*r, "greeter", "greeter-2"); }));
  // Past the ttl, through the surviving members.
  CHECK_FALSE(next_matching(*w, "delete", "greeter-1", std::chrono::seconds(4)).has_value());
  CHECK(has_node(*r, "greeter", "greeter-1"));
}
