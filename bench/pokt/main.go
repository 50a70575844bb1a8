// Command pokt measures pokt-network/smt on the workload of bench/bench_smt.py.
//
// Blocks of UTXO-like updates (half deletions of live keys, half new keys), each
// committed, on the library's in-memory map store with SHA-256; then proofs and
// verifications of live keys. One JSON line per tree size on stdout.
package main

import (
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pokt-network/smt"
	"github.com/pokt-network/smt/kvstore/simplemap"
)

const buildBatch = 50_000

type result struct {
	Leaves        int     `json:"leaves"`
	UpdatesPerSec float64 `json:"updates_per_s"`
	ProofsPerSec  float64 `json:"proofs_per_s"`
	VerifyPerSec  float64 `json:"verifications_per_s"`
	MedianProof   int     `json:"median_proof_bytes"`
}

func randKey(rng *rand.Rand) []byte {
	key := make([]byte, 32)
	rng.Read(key)
	return key
}

func value(key []byte) []byte {
	sum := sha256.Sum256(key)
	return sum[:]
}

func run(size, blocks, blockSize int, rng *rand.Rand) (result, error) {
	tree := smt.NewSparseMerkleTrie(simplemap.NewSimpleMap(), sha256.New())
	keys := make([][]byte, 0, size+blockSize)
	for start := 0; start < size; start += buildBatch {
		for i := start; i < size && i < start+buildBatch; i++ {
			key := randKey(rng)
			keys = append(keys, key)
			if err := tree.Update(key, value(key)); err != nil {
				return result{}, err
			}
		}
		if err := tree.Commit(); err != nil {
			return result{}, err
		}
	}
	var elapsed time.Duration
	for b := 0; b < blocks; b++ {
		spends := make([][]byte, 0, blockSize/2)
		for len(spends) < blockSize/2 {
			i := rng.Intn(len(keys))
			keys[i], keys[len(keys)-1] = keys[len(keys)-1], keys[i]
			spends = append(spends, keys[len(keys)-1])
			keys = keys[:len(keys)-1]
		}
		fresh := make([][]byte, 0, blockSize-blockSize/2)
		for len(fresh) < blockSize-blockSize/2 {
			key := randKey(rng)
			fresh = append(fresh, key)
			keys = append(keys, key)
		}
		start := time.Now()
		for _, key := range spends {
			if err := tree.Delete(key); err != nil {
				return result{}, err
			}
		}
		for _, key := range fresh {
			if err := tree.Update(key, value(key)); err != nil {
				return result{}, err
			}
		}
		if err := tree.Commit(); err != nil {
			return result{}, err
		}
		elapsed += time.Since(start)
	}
	res := result{Leaves: size, UpdatesPerSec: float64(blocks*blockSize) / elapsed.Seconds()}

	const proofs = 5_000
	sample := make([][]byte, proofs)
	for i := range sample {
		sample[i] = keys[rng.Intn(len(keys))]
	}
	made := make([]*smt.SparseMerkleProof, proofs)
	start := time.Now()
	for i, key := range sample {
		proof, err := tree.Prove(key)
		if err != nil {
			return result{}, err
		}
		made[i] = proof
	}
	res.ProofsPerSec = proofs / time.Since(start).Seconds()
	sizes := make([]int, proofs)
	for i, proof := range made {
		raw, err := proof.Marshal()
		if err != nil {
			return result{}, err
		}
		sizes[i] = len(raw)
	}
	sort.Ints(sizes)
	res.MedianProof = sizes[proofs/2]
	root := tree.Root()
	start = time.Now()
	for i, key := range sample {
		ok, err := smt.VerifyProof(made[i], root, key, value(key), tree.Spec())
		if err != nil || !ok {
			return result{}, fmt.Errorf("proof %d did not verify: %v", i, err)
		}
	}
	res.VerifyPerSec = proofs / time.Since(start).Seconds()
	return res, nil
}

func main() {
	sizes := flag.String("sizes", "10000,100000,1000000", "leaf counts, comma-separated")
	blocks := flag.Int("blocks", 30, "blocks per size")
	blockSize := flag.Int("block", 2000, "updates per block")
	flag.Parse()
	rng := rand.New(rand.NewSource(2026))
	out := json.NewEncoder(os.Stdout)
	for _, text := range strings.Split(*sizes, ",") {
		size, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad size:", text)
			os.Exit(2)
		}
		res, err := run(size, *blocks, *blockSize, rng)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := out.Encode(res); err != nil {
			os.Exit(1)
		}
	}
}
