package nft

import (
	"log/slog"

	"github.com/switchboard/switchboard/internal/model"
)

// Config configures a Backend.
type Config struct {
	// Logger receives what the backend changes; default discards.
	Logger *slog.Logger
	// NetNS is the path of the network namespace to program, such as
	// /var/run/netns/lb; empty means the process's own.
	NetNS string
	// BatchSize caps the elements of one netlink message. Default 1000 (about
	// 40 KiB, under the 64 KiB attribute limit); at most 1500.
	BatchSize int
	// TxnSize caps the slot changes of one transaction. Default 2500 (under
	// the socket buffer that a larger sendmsg overflows with EMSGSIZE).
	TxnSize int
	// NftPath is the nft command; default "nft" from PATH.
	NftPath string
	// Serves picks the load balancers to program; default those whose
	// data_plane backend is nft. serve narrows it to the ones it did not
	// fall back to userspace for.
	Serves func(*model.LoadBalancer) bool
}
