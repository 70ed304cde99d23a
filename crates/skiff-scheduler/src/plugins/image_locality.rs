//! `ImageLocality` (PreScore, Score): favours nodes that already have the pod's images
//! (`status.images`).
//!
//! Each image present on the node scores its size scaled by the fraction of nodes having it (to avoid
//! piling pods onto the few nodes with an image); the sum is clamped to
//! `[23Mi, 1000Mi × containers]` and mapped linearly to `0..=100`. Images are matched by name, with
//! `:latest` added to a name without a tag, as upstream's `normalizedImageName`. Init containers count.

use crate::framework::{
    CycleState, NodeInfo, Plugin, PodInfo, PreScorePlugin, ScorePlugin, Snapshot, Status,
    MAX_NODE_SCORE,
};

const MB: i64 = 1024 * 1024;
/// `minThreshold`.
pub const MIN_THRESHOLD: i64 = 23 * MB;
/// `maxContainerThreshold`.
pub const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// The `ImageLocality` plugin.
#[derive(Debug, Default)]
pub struct ImageLocality;

/// The pod's images (normalized) with the number of nodes having each, and the node count.
#[derive(Clone)]
struct PreScoreState {
    /// Images some node has, with the number of nodes having them.
    images: Vec<(String, usize)>,
    total_nodes: usize,
    containers: usize,
}

/// `normalizedImageName`: `name:latest` when the name has no tag.
pub fn normalized_image_name(name: &str) -> String {
    let colon = name.rfind(':').map(|i| i as isize).unwrap_or(-1);
    let slash = name.rfind('/').map(|i| i as isize).unwrap_or(-1);
    if colon <= slash {
        format!("{name}:latest")
    } else {
        name.to_string()
    }
}

/// `calculatePriority`.
pub fn calculate_priority(sum_scores: i64, num_containers: usize) -> i64 {
    let max_threshold = MAX_CONTAINER_THRESHOLD * num_containers as i64;
    let s = if sum_scores < MIN_THRESHOLD {
        MIN_THRESHOLD
    } else if sum_scores > max_threshold {
        max_threshold
    } else {
        sum_scores
    };
    if max_threshold <= MIN_THRESHOLD {
        return 0;
    }
    MAX_NODE_SCORE * (s - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
}

/// `scaledImageScore`.
fn scaled_image_score(size: i64, num_nodes: usize, total_nodes: usize) -> i64 {
    let spread = num_nodes as f64 / total_nodes as f64;
    (size as f64 * spread) as i64
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        super::names::IMAGE_LOCALITY
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        Some(self)
    }
}

fn container_images(pod: &PodInfo) -> Vec<String> {
    let Some(spec) = pod.pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .map(|c| normalized_image_name(c.image.as_deref().unwrap_or("")))
        .collect()
}

impl PreScorePlugin for ImageLocality {
    fn pre_score(
        &self,
        state: &mut CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
        _nodes: &[&NodeInfo],
    ) -> Status {
        let all = container_images(pod);
        let containers = all.len();
        let images: Vec<(String, usize)> = all
            .into_iter()
            .map(|i| {
                let n = snapshot.image_num_nodes(&i);
                (i, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        state.write(PreScoreState {
            containers,
            images,
            total_nodes: snapshot.num_nodes(),
        });
        Status::success()
    }
}

impl PreScoreState {
    /// The score of one node.
    #[inline]
    fn score(&self, node: &NodeInfo) -> i64 {
        let mut sum = 0i64;
        for (image, num_nodes) in &self.images {
            if let Some(size) = node.image_size(image) {
                sum += scaled_image_score(size, *num_nodes, self.total_nodes);
            }
        }
        calculate_priority(sum, self.containers)
    }
}

fn read_state(state: &CycleState) -> Result<&PreScoreState, Status> {
    state.read::<PreScoreState>().ok_or_else(|| {
        Status::error("reading \"PreScoreImageLocality\" from cycleState: not found")
    })
}

impl ScorePlugin for ImageLocality {
    #[inline]
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = read_state(state)?;
        if s.images.is_empty() {
            return Ok(calculate_priority(0, s.containers));
        }
        Ok(s.score(node))
    }

    fn score_nodes(
        &self,
        state: &CycleState,
        _pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut Vec<i64>,
    ) -> Result<(), Status> {
        let s = read_state(state)?;
        if s.images.is_empty() {
            // No node has any of the pod's images: every node scores the same, without reading it.
            let score = calculate_priority(0, s.containers);
            scores.extend(std::iter::repeat_n(score, nodes.len()));
        } else {
            scores.extend(nodes.iter().map(|n| s.score(n)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn names() {
        assert_eq!(normalized_image_name("nginx"), "nginx:latest");
        assert_eq!(normalized_image_name("nginx:1.2"), "nginx:1.2");
        assert_eq!(
            normalized_image_name("localhost:5000/nginx"),
            "localhost:5000/nginx:latest"
        );
        assert_eq!(normalized_image_name("gcr.io/a/b:v1"), "gcr.io/a/b:v1");
    }

    #[test]
    fn table() {
        // Upstream's test: 40MB and 300MB images, 250MB and 10MB on the other node.
        let snap = Snapshot::from_objects(
            [
                node("machine1")
                    .image("gcr.io/40:latest", 40 * MB)
                    .image("gcr.io/300:latest", 300 * MB)
                    .image("gcr.io/2000:latest", 2000 * MB)
                    .build(),
                node("machine2")
                    .image("gcr.io/250:latest", 250 * MB)
                    .image("gcr.io/10:v1", 10 * MB)
                    .build(),
                node("machine3")
                    .image("gcr.io/300:latest", 300 * MB)
                    .build(),
            ],
            [],
        )
        .unwrap();
        let score = |p: &PodInfo, n: &str| {
            let mut st = CycleState::new();
            ImageLocality.pre_score(&mut st, &snap, p, &[]);
            ImageLocality.score(&st, p, snap.get(n).unwrap()).unwrap()
        };
        let p = PodInfo::new(pod("p").image("gcr.io/40").image("gcr.io/250").build());
        // machine1: 40MB × 1/3 = 13.3MB < 23MB => 0. machine2: 250MB/3 = 83.3MB:
        // 100 × (83.3 - 23) / (2000 - 23) = 3.
        assert_eq!(score(&p, "machine1"), 0);
        assert_eq!(score(&p, "machine2"), 3);
        let p = PodInfo::new(pod("p").image("gcr.io/300").build());
        // 300MB × 2/3 = 200MB: 100 × (200 - 23)/(1000 - 23) = 18.
        assert_eq!(score(&p, "machine1"), 18);
        assert_eq!(score(&p, "machine2"), 0);
        let p = PodInfo::new(pod("p").image("gcr.io/2000").build());
        // 2000MB/3 = 666MB => 100 × (666.7-23)/(1000-23) = 65.
        assert_eq!(score(&p, "machine1"), 65);
        let p = PodInfo::new(pod("p").image("gcr.io/10:v1").build());
        assert_eq!(score(&p, "machine2"), 0);
    }
}
