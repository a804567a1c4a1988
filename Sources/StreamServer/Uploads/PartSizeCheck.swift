/// What `complete` checks before it assembles anything: the parts storage holds are
/// exactly the declared file, cut at `UploadPlan.partSize`. A presigned PUT URL signs
/// only the host and the part, not its length, so without this a client that declared
/// 1 byte could PUT 5 GiB into part 1 and complete it. Pure: tested without storage.
public enum PartSizeCheck {
    /// - Throws: 400 naming the first part that is missing or the wrong size.
    public static func verify(_ parts: [UploadedPart], declaredSize: Int64, partCount: Int,
                              partSize: Int64 = UploadPlan.partSize) throws(APIError) {
        let byNumber = Dictionary(parts.map { ($0.partNumber, $0.size) }, uniquingKeysWith: { first, _ in first })
        guard parts.count == partCount, byNumber.count == partCount else {
            throw .badRequest("storage holds \(parts.count) parts; the upload has \(partCount)")
        }
        let (lastStart, overflow) = partSize.multipliedReportingOverflow(by: Int64(partCount - 1))
        guard partCount >= 1, !overflow, declaredSize > lastStart, declaredSize - lastStart <= partSize else {
            throw .badRequest("the declared size does not fit \(partCount) parts")
        }
        for number in 1...partCount {
            let expected = number < partCount ? partSize : declaredSize - lastStart
            guard let size = byNumber[number] else { throw .badRequest("part \(number) is missing") }
            guard size == expected else {
                throw .badRequest("part \(number) has \(size) bytes; expected \(expected)")
            }
        }
    }
}
