// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {SparseMerkleProof} from "./SparseMerkleProof.sol";

/// The three calls the vault makes on its one ERC-20.
interface IERC20Minimal {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title Fontana's L1 vault (docs/bridge.md)
/// @notice Holds the TIA that backs the rollup, as the native coin and as one ERC-20.
/// Deposits emit `Deposited` for the watcher to credit on the rollup. A withdrawal is
/// released to anyone who shows a checkpoint of the rollup's state root signed by
/// `threshold` of the bridge validators and the sparse Merkle proof that the
/// withdrawal's leaf is in that root; each withdrawal id is paid once.
contract Vault {
    /// Amounts are utia in events and leaves; the rollup keeps them below 2^63.
    uint64 public constant MAX_UTIA = type(uint64).max >> 1;
    uint256 public constant SIGNATURE_LENGTH = 65;
    /// Half the secp256k1 group order: a signature's s must not exceed it (EIP-2).
    uint256 private constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    bytes32 public constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 public constant CHECKPOINT_TYPEHASH =
        keccak256("Checkpoint(bytes32 genesisHash,uint64 height,bytes32 stateRoot)");
    bytes32 private constant NAME_HASH = keccak256("Fontana Vault");
    bytes32 private constant VERSION_HASH = keccak256("1");

    /// The genesis hash of the rollup deployment this vault serves.
    bytes32 public immutable genesisHash;
    /// The ERC-20 form of TIA (zero: none; only the native coin is accepted).
    address public immutable token;
    /// L1 units per utia: of the native coin, and of the token.
    uint256 public immutable nativeScale;
    uint256 public immutable tokenScale;
    /// How many validator signatures a checkpoint needs.
    uint256 public immutable threshold;

    uint256 private immutable cachedChainId;
    bytes32 private immutable cachedDomainSeparator;

    mapping(address => bool) public isValidator;
    address[] private validatorList;
    /// Withdrawal ids already paid.
    mapping(bytes32 => bool) public released;
    /// Deposits so far; the next deposit's id is one more.
    uint64 public depositCount;

    event Deposited(
        uint64 indexed depositId, address indexed sender, bytes32 indexed rollupAddress, address token, uint64 amount
    );
    event Released(bytes32 indexed id, address indexed recipient, address token, uint64 amount, uint64 height);

    error BadConfig(string reason);
    error ZeroRecipient();
    error BadAmount(uint256 amount);
    error NoToken();
    error UnknownToken(address token);
    error TokenTransferFailed();
    error NativeTransferFailed();
    error AlreadyReleased(bytes32 id);
    error TooFewSignatures(uint256 count, uint256 threshold);
    error BadSignatureLength(uint256 index);
    error HighS(uint256 index);
    error BadSignature(uint256 index);
    error NotValidator(uint256 index, address signer);
    error SignersNotIncreasing(uint256 index);
    error BadProof();
    error InsufficientLiquidity(address token, uint256 needed, uint256 held);

    /// @param validators_ bridge validator addresses, strictly increasing (no duplicates)
    /// @param threshold_ signatures a checkpoint needs, 1..validators.length
    /// @param genesisHash_ the rollup deployment's genesis hash
    /// @param token_ the ERC-20 form of TIA, or zero for none
    /// @param nativeScale_ native units per utia (10^12 for 18 decimals)
    /// @param tokenScale_ token units per utia (1 for 6 decimals)
    constructor(
        address[] memory validators_,
        uint256 threshold_,
        bytes32 genesisHash_,
        address token_,
        uint256 nativeScale_,
        uint256 tokenScale_
    ) {
        if (threshold_ == 0 || threshold_ > validators_.length) revert BadConfig("threshold");
        if (nativeScale_ == 0 || tokenScale_ == 0) revert BadConfig("scale");
        address previous = address(0);
        for (uint256 i = 0; i < validators_.length; ++i) {
            if (validators_[i] <= previous) revert BadConfig("validators");
            previous = validators_[i];
            isValidator[previous] = true;
            validatorList.push(previous);
        }
        threshold = threshold_;
        genesisHash = genesisHash_;
        token = token_;
        nativeScale = nativeScale_;
        tokenScale = tokenScale_;
        cachedChainId = block.chainid;
        cachedDomainSeparator = _domainSeparator();
    }

    // ------------------------------------------------------------------ deposits

    /// @notice Deposit the native coin (a whole number of utia) for `rollupAddress`.
    function depositNative(bytes32 rollupAddress) external payable {
        if (rollupAddress == bytes32(0)) revert ZeroRecipient();
        uint64 utia = _utia(msg.value, nativeScale);
        _deposited(rollupAddress, address(0), utia);
    }

    /// @notice Deposit `tokenAmount` of the token (approved to the vault beforehand).
    function depositToken(bytes32 rollupAddress, uint256 tokenAmount) external {
        address token_ = token;
        if (token_ == address(0)) revert NoToken();
        if (rollupAddress == bytes32(0)) revert ZeroRecipient();
        uint64 utia = _utia(tokenAmount, tokenScale);
        // What arrived, not what was asked: a token that takes a fee or re-enters
        // cannot make the vault credit more than it holds.
        uint256 before = IERC20Minimal(token_).balanceOf(address(this));
        _call(token_, abi.encodeCall(IERC20Minimal.transferFrom, (msg.sender, address(this), tokenAmount)));
        if (IERC20Minimal(token_).balanceOf(address(this)) - before != tokenAmount) revert TokenTransferFailed();
        _deposited(rollupAddress, token_, utia);
    }

    function _utia(uint256 l1Amount, uint256 scale) private pure returns (uint64) {
        if (l1Amount % scale != 0) revert BadAmount(l1Amount);
        uint256 utia = l1Amount / scale;
        if (utia == 0 || utia > MAX_UTIA) revert BadAmount(l1Amount);
        return uint64(utia);
    }

    function _deposited(bytes32 rollupAddress, address token_, uint64 utia) private {
        uint64 id = depositCount + 1;
        depositCount = id;
        emit Deposited(id, msg.sender, rollupAddress, token_, utia);
    }

    // ------------------------------------------------------------------ withdrawals

    /// @notice Pay withdrawal `id` (the burn's txid on the rollup) of `amount` utia to
    /// `recipient` in the form `token` (zero: the native coin), given `signatures` of
    /// the checkpoint `(genesisHash, height, stateRoot)` by validators in strictly
    /// increasing address order, and the `proof` of the withdrawal leaf in `stateRoot`.
    function release(
        bytes32 id,
        address recipient,
        address token_,
        uint64 amount,
        uint64 height,
        bytes32 stateRoot,
        bytes[] calldata signatures,
        bytes calldata proof
    ) external {
        if (released[id]) revert AlreadyReleased(id);
        _checkSignatures(checkpointDigest(height, stateRoot), signatures);
        if (!SparseMerkleProof.verify(
                stateRoot, withdrawalKey(id), withdrawalValueHash(id, recipient, token_, amount), true, proof
            )) {
            revert BadProof();
        }
        released[id] = true;
        _pay(recipient, token_, amount);
        emit Released(id, recipient, token_, amount, height);
    }

    function _checkSignatures(bytes32 digest, bytes[] calldata signatures) private view {
        uint256 count = signatures.length;
        if (count < threshold) revert TooFewSignatures(count, threshold);
        address previous = address(0);
        for (uint256 i = 0; i < count; ++i) {
            bytes calldata sig = signatures[i];
            if (sig.length != SIGNATURE_LENGTH) revert BadSignatureLength(i);
            bytes32 r = bytes32(sig[0:32]);
            bytes32 s = bytes32(sig[32:64]);
            uint8 v = uint8(sig[64]);
            if (uint256(s) > HALF_ORDER) revert HighS(i);
            if (v != 27 && v != 28) revert BadSignature(i);
            address signer = ecrecover(digest, v, r, s);
            if (signer == address(0)) revert BadSignature(i);
            if (!isValidator[signer]) revert NotValidator(i, signer);
            if (signer <= previous) revert SignersNotIncreasing(i);
            previous = signer;
        }
    }

    function _pay(address recipient, address token_, uint64 amount) private {
        if (token_ == address(0)) {
            uint256 value = uint256(amount) * nativeScale;
            if (address(this).balance < value) revert InsufficientLiquidity(token_, value, address(this).balance);
            (bool ok,) = recipient.call{value: value}("");
            if (!ok) revert NativeTransferFailed();
        } else {
            if (token_ != token) revert UnknownToken(token_);
            uint256 value = uint256(amount) * tokenScale;
            uint256 held = IERC20Minimal(token_).balanceOf(address(this));
            if (held < value) revert InsufficientLiquidity(token_, value, held);
            _call(token_, abi.encodeCall(IERC20Minimal.transfer, (recipient, value)));
        }
    }

    /// A token call that must succeed and return nothing or `true`.
    function _call(address token_, bytes memory data) private {
        (bool ok, bytes memory ret) = token_.call(data);
        if (!ok || (ret.length != 0 && (ret.length != 32 || abi.decode(ret, (uint256)) != 1))) {
            revert TokenTransferFailed();
        }
        if (ret.length == 0 && token_.code.length == 0) revert TokenTransferFailed();
    }

    // ------------------------------------------------------------------ views

    /// @notice The EIP-712 digest validators sign for the checkpoint `(genesisHash, height, stateRoot)`.
    function checkpointDigest(uint64 height, bytes32 stateRoot) public view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(CHECKPOINT_TYPEHASH, genesisHash, height, stateRoot));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function domainSeparator() public view returns (bytes32) {
        return block.chainid == cachedChainId ? cachedDomainSeparator : _domainSeparator();
    }

    function _domainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// @notice The state tree key of withdrawal `id`: tagged_hash("fontana/withdrawal/key", id).
    function withdrawalKey(bytes32 id) public pure returns (bytes32) {
        return sha256(abi.encodePacked("fontana/withdrawal/key", bytes1(0), id));
    }

    /// @notice The leaf's value hash: tagged_hash("fontana/withdrawal/leaf", id ‖ recipient ‖ token ‖ amount).
    function withdrawalValueHash(bytes32 id, address recipient, address token_, uint64 amount)
        public
        pure
        returns (bytes32)
    {
        return sha256(abi.encodePacked("fontana/withdrawal/leaf", bytes1(0), id, recipient, token_, amount));
    }

    /// @notice The bridge validators, in increasing address order.
    function validators() external view returns (address[] memory) {
        return validatorList;
    }
}
