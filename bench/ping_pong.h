// The limit for the round-trip benchmark: two threads ping-ponging over the
// notification mechanism the simulated hypervisor uses, doing no work.
//
// A "vCPU" writes its port's eventfd and blocks in poll() on its own eventfd;
// the "server" thread polls an epoll fd over every port's eventfd (as the
// event loop polls SimEventChannels::fd()), takes one ready port with
// epoll_wait, consumes it and writes the vCPU's eventfd back. With
// `mask_ports`, the server also removes the port from the epoll set and adds
// it back per event, as SimEventChannels emulates the evtchn driver's
// masking; that variant shows what the masking emulation alone costs.
//
// Thread-safety: one client thread per channel; the server runs on its own.
#pragma once

#include <atomic>
#include <thread>
#include <vector>

namespace vgpu::bench {

class PingPong {
 public:
  PingPong(unsigned channels, bool mask_ports);
  ~PingPong();
  PingPong(const PingPong&) = delete;
  PingPong& operator=(const PingPong&) = delete;

  // One round trip on `channel`, from the client side.
  void round_trip(unsigned channel);

 private:
  void serve();
  void serve_one();

  struct Channel {
    int port_fd = -1;  // client -> server
    int vcpu_fd = -1;  // server -> client
  };
  std::vector<Channel> channels_;
  bool mask_ports_;
  int epoll_fd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;
};

}  // namespace vgpu::bench
