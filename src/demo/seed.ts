/**
 * Deterministic sample data for the demo: the same 48 restaurants (12 chinese), 144
 * dishes, 20 clients and 300 orders on every machine, written once into an empty database.
 */
import type { Store } from '../store/store.js';

/** mulberry32: a small, seeded PRNG so the sample data is the same everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES: Record<string, string[]> = {
  chinese: ['Le Lotus Bleu', 'Jardin de Pékin', 'Dragon d\'Or', 'Wok Express', 'Chez Lin', 'Le Grand Canton', 'Shanghai Café', 'Dim Sum Palace', 'La Muraille', 'Bambou Doré', 'Mandarin', 'Le Mandarin Céleste'],
  thai: ['Bangkok Street', 'Siam Orchid', 'Thaï Basilic', 'Le Phuket', 'Lotus Thaï', 'Baan Thaï', 'Chiang Mai', 'Royal Siam'],
  japanese: ['Sushi Shop', 'Kyoto', 'Osaka Ramen', 'Le Zen', 'Sakura', 'Matsuri', 'Hokkaido'],
  italian: ['Pizzeria Napoli', 'Napolitano', 'Trattoria Roma', 'Da Vinci', 'La Dolce Vita', 'Il Napoletano', 'Pasta Fresca'],
  french: ['Le Napolitain', 'Café de Flore', 'Bistrot Crème Brûlée', 'Chez Félix', 'La Crêperie', 'Le Petit Zinc', 'Brasserie Lipp'],
  indian: ['Taj Mahal', 'Le Maharaja', 'Bombay Palace', 'Curry House', 'Kashmir', 'Delhi Darbar', 'Namaste'],
};

const DISHES: Record<string, string[]> = {
  chinese: ['Canard laqué', 'Raviolis vapeur', 'Riz cantonais'],
  thai: ['Pad thaï', 'Curry vert', 'Tom yum'],
  japanese: ['Sushi saumon', 'Ramen tonkotsu', 'Gyoza'],
  italian: ['Pizza margherita', 'Lasagne', 'Tiramisu'],
  french: ['Bœuf bourguignon', 'Crème brûlée', 'Soupe à l\'oignon'],
  indian: ['Butter chicken', 'Naan fromage', 'Dal makhani'],
};

const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const FIRSTNAMES = ['James', 'Alice', 'Bob', 'Chloé', 'Émile', 'Fatou', 'Giulia', 'Hugo', 'Inès', 'Jules', 'Kenji', 'Léa', 'Mohamed', 'Nora', 'Oscar', 'Paul', 'Quentin', 'Rosa', 'Sofia', 'Tom'];
const LASTNAMES = ['Bond', 'Martin', 'Bernard', 'Dubois', 'Thomas', 'Robert', 'Richard', 'Petit', 'Durand', 'Leroy', 'Moreau', 'Simon', 'Laurent', 'Lefèvre', 'Michel', 'Garcia', 'David', 'Bertrand', 'Roux', 'Vincent'];
const CITIES = ['Paris', 'Lyon', 'Marseille', 'Bordeaux', 'Lille'];
const STATES = ['placed', 'preparing', 'ready', 'served', 'paid', 'paid', 'paid', 'cancelled'];

/** A fixed clock so timestamps are deterministic too. */
const EPOCH = Date.UTC(2024, 0, 1, 9, 0, 0);

export interface SeedCounts {
  readonly restaurants: number;
  readonly dishes: number;
  readonly clients: number;
  readonly orders: number;
}

/** Fills an empty demo database; does nothing when restaurants already exist. */
export async function seedDemo(store: Store): Promise<SeedCounts | null> {
  if ((await store.count('restaurants', { kind: 'true' })) > 0) return null;
  const random = seededRandom(42);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const at = (minutes: number) => new Date(EPOCH + minutes * 60_000).toISOString();
  return store.transaction(async (tx) => {
    let restaurants = 0;
    let dishes = 0;
    for (const [type, names] of Object.entries(NAMES)) {
      for (const name of names) {
        restaurants++;
        const days = DAYS.filter(() => random() < 0.75);
        const city = restaurants % 4 === 0 ? pick(CITIES.slice(1)) : 'Paris';
        const zipcode = city === 'Paris' ? `750${String(1 + Math.floor(random() * 20)).padStart(2, '0')}` : String(10000 + Math.floor(random() * 80000));
        const created = at(restaurants * 60);
        const restaurant = await tx.insert('restaurants', {
          name,
          type,
          rating: Math.floor(random() * 6),
          reviews: Math.floor(random() * 500),
          days: days.length > 0 ? days : ['saturday'],
          zipcode,
          address: { street: `${1 + Math.floor(random() * 120)} rue ${pick(['de Rivoli', 'Oberkampf', 'de la Paix', 'Mouffetard', 'du Bac'])}`, city },
          photo: null,
          createdAt: created,
          updatedAt: created,
        });
        for (const dish of DISHES[type] ?? []) {
          dishes++;
          await tx.insert('dishes', {
            restaurantId: restaurant.id,
            name: dish,
            price: Math.round((6 + random() * 24) * 2) / 2,
            vegetarian: /riz|naan|dal|soupe|crème|tiramisu|margherita|curry vert/i.test(dish),
            tags: [type],
          });
        }
      }
    }
    for (let i = 0; i < 20; i++) {
      const firstname = FIRSTNAMES[i] as string;
      const name = LASTNAMES[i] as string;
      await tx.insert('clients', {
        firstname,
        name,
        email: `${firstname.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()}.${name.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()}@example.com`,
        phone: `+33 6 ${String(10_00_00_00 + i * 1_234_567).replace(/(\d{2})(?=\d)/g, '$1 ')}`,
        address: { street: i === 0 ? 'Horsen Ferry Road' : `${10 + i} avenue ${pick(['Foch', 'Victor Hugo', 'Jean Jaurès'])}`, city: i === 0 ? 'London' : pick(CITIES), zipCode: i === 0 ? 'SW1P' : `750${String(1 + (i % 20)).padStart(2, '0')}` },
        createdAt: at(i * 30),
      });
    }
    const orders = 300;
    for (let i = 0; i < orders; i++) {
      const restaurantId = 1 + Math.floor(random() * restaurants);
      const created = at(10_000 + i * 17);
      await tx.insert('orders', {
        clientId: 1 + Math.floor(random() * 20),
        restaurantId,
        state: pick(STATES),
        orderValue: Math.round((12 + random() * 88) * 100) / 100,
        items: [{ dishId: (restaurantId - 1) * 3 + 1 + Math.floor(random() * 3), quantity: 1 + Math.floor(random() * 3) }],
        createdAt: created,
        updatedAt: created,
      });
    }
    return { restaurants, dishes, clients: 20, orders };
  });
}
