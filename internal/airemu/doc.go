// Package airemu emulates NVIDIA Air's v3 image API (images, multipart upload,
// publish, image shares and claims) so the provider can be tested, and tried,
// without the real service. It follows the contract in DESIGN.md ("Air v3
// contract"), NVIDIA's Python SDK (github.com/NVIDIA/nv-air-sdk, release 1.3.1) and
// NVIDIA's public API reference (docs.nvidia.com/dsx-air/api-reference/images);
// the details those add to DESIGN.md are listed here, with the emulator's own
// choices where neither says.
//
// From the SDK:
//   - Timestamps: the SDK parses them with Python's datetime.fromisoformat after
//     turning "Z" into "+00:00", so only 0, 3 or 6 fractional digits parse. The
//     emulator always writes 6 digits and "Z" (2025-04-22T20:03:22.744128Z), as
//     Django REST framework does for a non-zero microsecond. It reads expires_at as
//     the SDK writes it: RFC 3339, "Z" or an offset, any fraction.
//   - A new image's defaults, from the SDK's documented create answer:
//     cpu_arch "x86", provider "VM", emulation_type [], emulation_version "",
//     minimum_resources {cpu 1, memory 1024, storage 10}, mountpoint null,
//     includes_air_agent false, notes/release_notes/user_manual "", size 0,
//     hash "", last_uploaded_at null, upload_status READY.
//   - ImageShare.image is parsed as a foreign key, so ids are UUIDs; claimed_by is
//     typed str, so an unclaimed share answers "" rather than null.
//   - Lists: the SDK sends limit=200 and then fetches "next" verbatim until it is
//     null. Pagination here is Django REST framework's LimitOffsetPagination:
//     absolute next/previous links that keep the other query parameters,
//     "previous" without offset when it would be 0; default limit 100, no maximum.
//   - Booleans in queries arrive as Python's True/False; true/false/1/0 are also
//     accepted, anything else is a 400.
//   - Part PUTs: the SDK gives requests a reader with a length so that the body has
//     a Content-Length, because S3 refuses Transfer-Encoding: chunked. The part
//     server does the same: a chunked part is 501 NotImplemented, as on S3. S3
//     errors are XML (<Error><Code>…</Code><Message>…</Message></Error>), not the
//     API's JSON. A part URL carrying an Authorization header is 400
//     InvalidArgument, a wrong signature 403 SignatureDoesNotMatch, a part of an
//     aborted or completed upload 404 NoSuchUpload.
//   - The part size comes from the answer's chunk_size (the SDK's fallback is
//     100,000,000 bytes, the default here): part i starts at (i-1)*chunk_size.
//
// From the API reference and the framework behind it (Django REST framework):
//   - A request body is read only with Content-Type application/json (the SDK
//     always sends it); a body of another or no media type is a 415.
//   - Every 4xx answer is JSON with "detail" and "request_id"; a 400 also has
//     "type": VALIDATION, or PROTECTED for a delete refused because the image is in
//     use, which adds "protected_instances".
//   - Limits: name 1-128 characters, version 1-64, default_username and
//     default_password at most 64; files up to 120 GB (120e9 bytes here); at most
//     10,000 parts, so a big file gets parts larger than the chunk size.
//   - start-upload needs READY ("only one upload per image at a time"; a COMPLETE
//     image must be cleared first), abort-upload needs UPLOADING.
//   - Images listed are those "visible to your account": the org's own and the
//     published images of other orgs (is_owned_by_client false). Another org's
//     published image can be read but not changed (403); any other object of
//     another org is a 404. List filters: name, version, published,
//     publicly_published, upload_status, hash, cpu_arch, provider,
//     includes_air_agent, is_owned_by_client, creator, search (name or version,
//     case-insensitive), ordering (comma-separated fields, "-" for descending,
//     unknown fields ignored; default: created).
//   - Share list filters: image, image_name, image_version, claimed_by,
//     target_org, target_org_display_name, source_org_display_name, state
//     (ACTIVE, CLAIMED or EXPIRED), search (image name or version, either org's
//     display name, case-insensitive).
//   - Shares are listed and read only by the org that made them ("created by your
//     organization"): the target org knows a share only by its id, the claim code,
//     and gets a 404 on GET. A share needs a COMPLETE, unpublished image of the
//     caller's and a target org other than the caller's (here also one the
//     emulator knows); expires_at must be in the future, default 24 h.
//   - Expired shares are "automatically cleaned up by background tasks": here an
//     expired, unclaimed share disappears (404, left out of lists) once
//     Options.ShareCleanupDelay has passed since its expiry; until then it reads
//     as ACTIVE with a past expires_at and cannot be claimed. A claimed share stays.
//   - Claim: "Only non-expired shares for your specific organization can be
//     claimed"; the new image is COPYING_FROM_IMAGE_SHARE, then COMPLETE. The share
//     becomes CLAIMED with claimed_by set to the claimer's e-mail. The reference
//     also says "the image share record is deleted upon successful claim", which
//     contradicts the CLAIMED state and the claimed_by list filter it documents;
//     Options.DeleteClaimedShares deletes the share when the copy completes, for
//     clients that want to survive that reading.
//   - publish/unpublish take optional name and version; publish's prefer_public
//     (default true) sets publicly_published. Both need a COMPLETE image.
//   - Deleting an image deletes its shares.
//
// Emulator choices where neither says:
//   - start-upload records the declared hash and size on the image, so UPLOADING
//     and VALIDATING images show them; abort-upload and clear-upload reset them.
//   - A failed validation returns the image to READY with hash "" and size 0; the
//     reason is in "emulator_validation_error", a field the real API does not
//     have (the SDK keeps unknown fields as plain attributes). It is absent
//     otherwise and cleared by the next start-upload or clear-upload.
//   - complete-upload follows S3's CompleteMultipartUpload: part numbers strictly
//     ascending, each part uploaded with that ETag, each but the last at least
//     5 MiB (or the chunk size, when that is smaller). The assembled content is
//     the listed parts in order; its size and sha256 are checked against
//     start-upload's asynchronously.
//   - A 400 about a share id in a request body (claim of an unknown, foreign,
//     claimed or expired share) is VALIDATION, as Django REST framework answers
//     for a body field.
//   - Each org's single user has the e-mail user@<org>.example.com (creator,
//     claimed_by); org display names are the org names.
//
// Part data lives on disk under the data directory, one file per part, written as
// it arrives and never held whole in memory; parts may come concurrently, out of
// order and more than once (the last one wins).
package airemu
